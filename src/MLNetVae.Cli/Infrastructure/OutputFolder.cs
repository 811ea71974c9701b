namespace MLNetVae.Cli.Infrastructure;

/// <summary>The folder a command writes its files to, checked before any work starts and written all at once at the end.</summary>
internal sealed class OutputFolder
{
    private OutputFolder(string path, bool overwrite)
    {
        FullPath = path;
        Overwrite = overwrite;
    }

    /// <summary>Absolute path of the folder.</summary>
    public string FullPath { get; }

    /// <summary>Whether existing files may be replaced.</summary>
    public bool Overwrite { get; }

    /// <summary>The full path of <paramref name="fileName"/> in this folder.</summary>
    public string File(string fileName) => Path.Combine(FullPath, fileName);

    /// <summary>
    /// Checks that <paramref name="fileNames"/> can be written to <paramref name="path"/>, so a long run never fails at its
    /// last step: the path is not a file and lies under no file, the folder (or the nearest existing folder above it) can
    /// be written to, no output name is taken by a folder, and, unless <paramref name="overwrite"/>, none of the files
    /// exists yet. Throws a <see cref="CliException"/> naming the problem. Nothing is created yet.
    /// </summary>
    public static OutputFolder Prepare(string path, bool overwrite, IEnumerable<string> fileNames)
    {
        if (string.IsNullOrWhiteSpace(path))
            throw new CliException("The output folder is empty.", "Pass --output <folder>.");
        string full = Path.GetFullPath(path);
        if (System.IO.File.Exists(full))
            throw new CliException($"The output path '{full}' is a file, not a folder.", "Pass a folder with --output.");
        var targets = fileNames.Select(f => Path.Combine(full, f)).ToList();
        var folders = targets.Where(Directory.Exists).ToList();
        if (folders.Count > 0)
            throw new CliException(
                $"The output {(folders.Count == 1 ? "file" : "files")} {string.Join(", ", folders.Select(f => $"'{f}'"))} cannot be written: a folder of that name is in the way.",
                "Remove or rename that folder, or choose another --output folder.");
        if (!overwrite)
        {
            var existing = targets.Where(System.IO.File.Exists).ToList();
            if (existing.Count > 0)
                throw new CliException(
                    $"{(existing.Count == 1 ? "The output file" : "Output files")} {string.Join(", ", existing.Select(e => $"'{e}'"))} already exist{(existing.Count == 1 ? "s" : "")}; not overwriting.",
                    "Add --overwrite to replace them, or choose another --output folder.");
        }
        RequireWritable(full);
        return new OutputFolder(full, overwrite);
    }

    /// <summary>
    /// Writes every file of <paramref name="files"/> (each action writes to the path it is given) to a temporary file
    /// beside its target, then moves them all into place while Ctrl+C is held off: whatever moment Ctrl+C comes, the
    /// folder holds either all the old files or all the new ones. Cancelling before the moves deletes the temporary files.
    /// </summary>
    public void WriteAll(IReadOnlyList<(string FileName, Action<string> Write)> files, CancellationToken cancellationToken) =>
        WriteAll(FullPath, files, Overwrite, cancellationToken);

    /// <summary>
    /// <see cref="WriteAll(IReadOnlyList{ValueTuple{string, Action{string}}}, CancellationToken)"/> into <paramref name="folder"/>
    /// (created if needed): also what <see cref="OutputFile.Write"/> uses for its one file.
    /// </summary>
    internal static void WriteAll(string folder, IReadOnlyList<(string FileName, Action<string> Write)> files, bool overwrite,
        CancellationToken cancellationToken)
    {
        Directory.CreateDirectory(folder);
        string stamp = $"{Environment.ProcessId}-{Guid.NewGuid():N}"[..16];
        var staged = new List<(string Temporary, string Target)>();
        try
        {
            foreach (var (fileName, write) in files)
            {
                cancellationToken.ThrowIfCancellationRequested();
                // Same folder (so the move is a rename), same extension (writers that pick the format from it).
                string temporary = Path.Combine(folder, $".{Path.GetFileNameWithoutExtension(fileName)}.partial-{stamp}{Path.GetExtension(fileName)}");
                staged.Add((temporary, Path.Combine(folder, fileName)));
                write(temporary);
            }
            cancellationToken.ThrowIfCancellationRequested();
            if (!overwrite && staged.FirstOrDefault(s => System.IO.File.Exists(s.Target)) is { Target: { } taken })
                throw Appeared(taken);
            using (CommandExecution.HoldOffCtrlC())
            {
                foreach (var (temporary, target) in staged)
                {
                    try
                    {
                        // Without --overwrite the move itself refuses an existing file: one created since the check above stays.
                        System.IO.File.Move(temporary, target, overwrite);
                    }
                    catch (IOException) when (!overwrite && System.IO.File.Exists(target))
                    {
                        throw Appeared(target);
                    }
                }
            }
            staged.Clear();
        }
        finally
        {
            foreach (var (temporary, _) in staged)
                TryDelete(temporary);
        }
    }

    private static CliException Appeared(string target) =>
        new($"The output file '{target}' appeared while this command ran; not overwriting.", "Add --overwrite, or choose another --output.");

    /// <summary>The folder, or the nearest existing one above it, takes a new file (a probe, created and deleted).</summary>
    internal static void RequireWritable(string folder)
    {
        string existing = folder;
        while (!Directory.Exists(existing))
        {
            if (System.IO.File.Exists(existing))
                throw new CliException($"The output folder '{folder}' cannot be created: '{existing}' is a file.", "Pass a folder path with --output.");
            existing = Path.GetDirectoryName(existing) ?? throw new CliException($"The output folder '{folder}' has no existing parent.", "Pass a folder path with --output.");
        }
        string probe = Path.Combine(existing, $".mlnetvae-write-probe-{Environment.ProcessId}-{Guid.NewGuid():N}");
        try
        {
            using (System.IO.File.Create(probe, 1, FileOptions.DeleteOnClose))
            {
            }
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            throw new CliException($"The output folder '{folder}' cannot be written to ({e.Message}).", "Check its permissions, or choose another --output folder.");
        }
    }

    private static void TryDelete(string path)
    {
        try
        {
            System.IO.File.Delete(path);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            // Best effort: a leftover '.partial' file is harmless and named as such.
        }
    }
}
