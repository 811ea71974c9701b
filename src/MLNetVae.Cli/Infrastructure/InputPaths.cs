namespace MLNetVae.Cli.Infrastructure;

/// <summary>Finds input files given on the command line, so the defaults work from any folder and from an installed tool.</summary>
internal static class InputPaths
{
    /// <summary>
    /// Resolves <paramref name="path"/>: as given (relative to the current folder), then relative to the repository
    /// root (the first folder above the current folder, or above the tool, that holds MLNetVae.sln), then relative to
    /// the tool's own folder. Throws a <see cref="CliException"/> (exit code 2) naming the path and the places tried.
    /// </summary>
    public static string ResolveExistingFile(string path, string what, string hint = "Check the path.")
    {
        if (string.IsNullOrWhiteSpace(path))
            throw new CliException($"No {what} was given.", "Pass a file path.");
        var candidates = Candidates(path).Distinct(StringComparer.Ordinal).ToList();
        foreach (var candidate in candidates)
            if (File.Exists(candidate))
                return candidate;
        if (Directory.Exists(candidates[0]))
            throw new CliException($"The {what} '{path}' is a folder, not a file.", "Pass the path of a file.");
        string tried = candidates.Count == 1 ? "" : $" (also looked in: {string.Join(", ", candidates.Skip(1))})";
        throw new CliException($"The {what} '{path}' was not found{tried}.", hint);
    }

    private static IEnumerable<string> Candidates(string path)
    {
        yield return Path.GetFullPath(path);
        if (Path.IsPathRooted(path))
            yield break;
        foreach (var start in new[] { Environment.CurrentDirectory, AppContext.BaseDirectory })
            if (FindRepoRoot(start) is { } root)
                yield return Path.GetFullPath(Path.Combine(root, path));
        yield return Path.GetFullPath(Path.Combine(AppContext.BaseDirectory, path));
    }

    private static string? FindRepoRoot(string start)
    {
        for (var directory = new DirectoryInfo(start); directory is not null; directory = directory.Parent)
            if (File.Exists(Path.Combine(directory.FullName, "MLNetVae.sln")))
                return directory.FullName;
        return null;
    }
}
