namespace MLNetVae.Cli.Infrastructure;

/// <summary>A single output file (score, sample), with the overwrite rule checked before any work starts.</summary>
internal static class OutputFile
{
    /// <summary>
    /// Returns the absolute path of <paramref name="path"/> after checking that it can be written: not a folder, not
    /// an existing file unless <paramref name="overwrite"/>, and its folder (or the nearest existing one above) takes new
    /// files, so a path under a file or in a read-only folder fails here, not after the scoring. Creates the parent folder
    /// only when writing (<see cref="Write"/>).
    /// </summary>
    public static string Prepare(string path, bool overwrite, string what = "output file")
    {
        if (string.IsNullOrWhiteSpace(path))
            throw new CliException($"The {what} path is empty.", "Pass --output <file>.");
        string full = Path.GetFullPath(path);
        if (Directory.Exists(full))
            throw new CliException($"The {what} '{full}' is a folder.", "Pass the path of a file with --output, e.g. scores.csv.");
        if (!overwrite && File.Exists(full))
            throw new CliException($"The {what} '{full}' already exists; not overwriting.", "Add --overwrite to replace it, or choose another --output.");
        OutputFolder.RequireWritable(Path.GetDirectoryName(full)!);
        return full;
    }

    /// <summary>
    /// Creates the folder <paramref name="fullPath"/> goes into and writes the file through a temporary file beside it,
    /// moved into place with Ctrl+C held off (<see cref="OutputFolder.WriteAll(string, IReadOnlyList{ValueTuple{string, Action{string}}}, bool, CancellationToken)"/>):
    /// the target is the old file or the complete new one, never a partial one. <see cref="Prepare"/> checked the overwrite
    /// rule before the work; without <paramref name="overwrite"/> a file created at the path since then is not replaced either.
    /// </summary>
    public static void Write(string fullPath, bool overwrite, Action<string> write) =>
        OutputFolder.WriteAll(Path.GetDirectoryName(fullPath)!, [(Path.GetFileName(fullPath), write)], overwrite, CancellationToken.None);
}
