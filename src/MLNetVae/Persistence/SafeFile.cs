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

    public static void Write(string path, Action<Stream> write, bool overwrite)
    {
        var full = Path.GetFullPath(path);
        var directory = Path.GetDirectoryName(full)!;
        Directory.CreateDirectory(directory);
        var temporary = Path.Combine(directory, $".{Path.GetFileName(full)}.{Guid.NewGuid():N}.tmp");
        try
        {
            using (var stream = new FileStream(temporary, FileMode.CreateNew, FileAccess.Write, FileShare.None))
            {
                write(stream);
                stream.Flush(flushToDisk: true);
            }
            File.Move(temporary, full, overwrite);
        }
        catch
        {
            TryDelete(temporary);
            throw;
        }
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
