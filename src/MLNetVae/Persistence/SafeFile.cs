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
            if (e is (IOException or UnauthorizedAccessException) and not PartlyRestoredException)
                throw Describe(e, current);
            throw;
        }
    }

    /// <summary>
    /// Moves the complete temporary files into place, all or none. An existing target is first copied to a backup beside
    /// it and then replaced by one atomic rename, so at every moment each target is either its old or its complete new
    /// version (a process killed half-way leaves at worst a stray backup, never a missing file). If a later move fails (a
    /// permission, a folder in the way) the targets already replaced get their backups renamed back and new ones are removed.
    /// </summary>
    private static void MoveAllOrNone(List<(string Temporary, string Target)> temporaries, bool overwrite, ref string current)
    {
        var done = new List<(string Target, string? Backup, bool MovedIn)>();
        try
        {
            foreach (var (temporary, target) in temporaries)
            {
                current = target;
                string? backup = null;
                if (overwrite && File.Exists(target))
                {
                    backup = Path.Combine(Path.GetDirectoryName(target)!, $".{Path.GetFileName(target)}.{Guid.NewGuid():N}.old");
                    File.Copy(target, backup);
                }
                done.Add((target, backup, false));
                File.Move(temporary, target, overwrite: backup is not null);
                done[^1] = (target, backup, true);
            }
        }
        catch (Exception e)
        {
            var notRestored = new List<string>();
            for (int i = done.Count - 1; i >= 0; i--)
            {
                var (target, backup, movedIn) = done[i];
                try
                {
                    if (movedIn && backup is not null)
                        File.Move(backup, target, overwrite: true);
                    else if (movedIn)
                        File.Delete(target);
                    else if (backup is not null)
                        File.Delete(backup);
                }
                catch (Exception restore) when (restore is IOException or UnauthorizedAccessException)
                {
                    notRestored.Add(backup is not null && movedIn ? $"'{target}' (its previous version is kept as '{backup}')" : $"'{target}'");
                }
            }
            if (notRestored.Count > 0)
                throw new PartlyRestoredException(
                    $"Could not write '{current}': {e.Message} The files written before it could not all be put back: {string.Join(", ", notRestored)}. " +
                    "Restore them by hand, then check that the folder is writable.", e);
            throw;
        }
        foreach (var (_, backup, _) in done)
            if (backup is not null)
                TryDelete(backup);
    }

    /// <summary>A failed multi-file write whose rollback failed too: its message says which files to restore by hand.</summary>
    private sealed class PartlyRestoredException(string message, Exception inner) : IOException(message, inner);

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
