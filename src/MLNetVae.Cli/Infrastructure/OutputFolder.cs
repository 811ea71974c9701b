namespace MLNetVae.Cli.Infrastructure;

/// <summary>The folder a command writes its files to, with the overwrite rule checked before any work starts.</summary>
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
    /// Checks that <paramref name="fileNames"/> can be written to <paramref name="path"/>: the path is not a file and,
    /// unless <paramref name="overwrite"/>, none of the files exists yet. Creates the folder. Throws a
    /// <see cref="CliException"/> naming the existing file(s) otherwise, so a long run never fails at its last step.
    /// Nothing is created yet: call <see cref="Create"/> when there is something to write.
    /// </summary>
    public static OutputFolder Prepare(string path, bool overwrite, IEnumerable<string> fileNames)
    {
        if (string.IsNullOrWhiteSpace(path))
            throw new CliException("The output folder is empty.", "Pass --output <folder>.");
        string full = Path.GetFullPath(path);
        if (System.IO.File.Exists(full))
            throw new CliException($"The output path '{full}' is a file, not a folder.", "Pass a folder with --output.");
        if (!overwrite)
        {
            var existing = fileNames.Select(f => Path.Combine(full, f)).Where(System.IO.File.Exists).ToList();
            if (existing.Count > 0)
                throw new CliException(
                    $"{(existing.Count == 1 ? "The output file" : "Output files")} {string.Join(", ", existing.Select(e => $"'{e}'"))} already exist{(existing.Count == 1 ? "s" : "")}; not overwriting.",
                    "Add --overwrite to replace them, or choose another --output folder.");
        }
        return new OutputFolder(full, overwrite);
    }

    /// <summary>Creates the folder (and its parents) if needed.</summary>
    public void Create() => Directory.CreateDirectory(FullPath);
}
