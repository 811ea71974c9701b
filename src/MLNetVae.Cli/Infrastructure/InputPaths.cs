namespace MLNetVae.Cli.Infrastructure;

/// <summary>Finds input files: the user's exactly where they said, the bundled sample wherever the tool or the repository is.</summary>
internal static class InputPaths
{
    /// <summary>
    /// Resolves a path the user gave: as given, relative to the current folder, and nowhere else (looking in other
    /// folders would read some other file of the same name). Throws a <see cref="CliException"/> (exit code 2) naming
    /// the path.
    /// </summary>
    public static string ResolveExistingFile(string path, string what, string hint = "Check the path.") =>
        Resolve(path, what, hint, [Path.GetFullPath(string.IsNullOrWhiteSpace(path) ? "." : path)]);

    /// <summary>
    /// Resolves a file that ships with the tool (the demo's sample data): relative to the current folder, then to the
    /// repository root (the first folder above the current folder, or above the tool, that holds MLNetVae.sln), then to
    /// the tool's own folder, so the default works from any folder and from an installed tool.
    /// </summary>
    public static string ResolveBundledFile(string path, string what, string hint = "Check the path.") =>
        Resolve(path, what, hint, Candidates(path).Distinct(StringComparer.Ordinal).ToList());

    private static string Resolve(string path, string what, string hint, IReadOnlyList<string> candidates)
    {
        if (string.IsNullOrWhiteSpace(path))
            throw new CliException($"No {what} was given.", "Pass a file path.");
        foreach (var candidate in candidates)
            if (File.Exists(candidate))
                return candidate;
        if (Directory.Exists(candidates[0]))
            throw new CliException($"The {what} '{path}' is a folder, not a file.", "Pass the path of a file.");
        string tried = candidates.Count == 1 ? $" (looked for {candidates[0]})" : $" (also looked in: {string.Join(", ", candidates.Skip(1))})";
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
