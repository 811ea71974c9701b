namespace MLNetVae.Persistence;

/// <summary>Writes files so that a crash, a full disk or a refused overwrite never destroys what was there.</summary>
internal static class SafeFile
{
    /// <summary>
    /// Writes <paramref name="bytes"/> to a temporary file in the target's folder, flushes it to disk, then moves it
    /// over <paramref name="path"/> (replacing it only when <paramref name="overwrite"/>). The temporary file is
    /// removed on failure, and the original stays intact.
    /// </summary>
    public static void WriteAllBytes(string path, byte[] bytes, bool overwrite) =>
        Write(path, stream => stream.Write(bytes), overwrite);

    public static void Write(string path, Action<Stream> write, bool overwrite) =>
        WriteAll(new[] { (path, write) }, overwrite);

    /// <summary>
    /// Writes several files that belong together (an encoder and its decoder): every one goes to a temporary file
    /// first, and only when all are complete are they moved into place. A failure while writing (full disk,
    /// read-only folder, exception) leaves every target as it was, so a new file never ends up next to an old partner.
    /// File-system errors are rethrown with the target's path and what to check; the original exception is inner.
    /// </summary>
    public static void WriteAll(IReadOnlyList<(string Path, Action<Stream> Write)> files, bool overwrite)
    {
        var temporaries = new List<(string Temporary, string Target)>();
        string current = files.Count > 0 ? files[0].Path : "";
        try
        {
            foreach (var (path, write) in files)
            {
                current = path;
                var full = Path.GetFullPath(path);
                var directory = Path.GetDirectoryName(full)!;
                Directory.CreateDirectory(directory);
                var temporary = Path.Combine(directory, $".{Path.GetFileName(full)}.{Guid.NewGuid():N}.tmp");
                temporaries.Add((temporary, full));
                using var stream = new FileStream(temporary, FileMode.CreateNew, FileAccess.Write, FileShare.None);
                write(stream);
                stream.Flush(flushToDisk: true);
            }
            if (temporaries.Count == 1)
            {
                current = temporaries[0].Target;
                File.Move(temporaries[0].Temporary, temporaries[0].Target, overwrite); // one atomic rename
            }
            else
            {
                MoveAllOrNone(temporaries, overwrite, ref current);
            }
        }
        catch (Exception e)
        {
            foreach (var (temporary, _) in temporaries)
                TryDelete(temporary);
            if (e is IOException or UnauthorizedAccessException)
                throw Describe(e, current);
            throw;
        }
    }

    /// <summary>
    /// Moves the complete temporary files into place, all or none: each existing target is first renamed aside, and if a
    /// later move fails (a permission, a folder in the way) the new files are removed and the old ones renamed back.
    /// </summary>
    private static void MoveAllOrNone(List<(string Temporary, string Target)> temporaries, bool overwrite, ref string current)
    {
        var done = new List<(string Target, string? Aside, bool MovedIn)>();
        try
        {
            foreach (var (temporary, target) in temporaries)
            {
                current = target;
                string? aside = null;
                if (overwrite && File.Exists(target))
                {
                    aside = Path.Combine(Path.GetDirectoryName(target)!, $".{Path.GetFileName(target)}.{Guid.NewGuid():N}.old");
                    File.Move(target, aside);
                }
                done.Add((target, aside, false));
                File.Move(temporary, target, overwrite: false);
                done[^1] = (target, aside, true);
            }
        }
        catch
        {
            for (int i = done.Count - 1; i >= 0; i--)
            {
                var (target, aside, movedIn) = done[i];
                if (movedIn)
                    TryDelete(target);
                if (aside is not null)
                    File.Move(aside, target, overwrite: true);
            }
            throw;
        }
        foreach (var (_, aside, _) in done)
            if (aside is not null)
                TryDelete(aside);
    }

    private static Exception Describe(Exception e, string path)
    {
        string message = $"Could not write '{path}': {e.Message} Nothing was replaced and no temporary file was left behind. " +
            "Check that the folder is writable, that the path's parent folders are folders, and that the disk has free space.";
        return e is UnauthorizedAccessException ? new UnauthorizedAccessException(message, e) : new IOException(message, e);
    }

    private static void TryDelete(string path)
    {
        try
        {
            File.Delete(path);
        }
        catch (IOException)
        {
        }
        catch (UnauthorizedAccessException)
        {
        }
    }
}
