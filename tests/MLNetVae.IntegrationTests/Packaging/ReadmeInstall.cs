using System.Globalization;
using System.Text.RegularExpressions;

namespace MLNetVae.Tests.Packaging;

/// <summary>The README's install section, read the way a user reads it: the package lines, the program and what it prints.</summary>
internal sealed record ReadmeInstall(IReadOnlyList<(string Id, string Version)> Packages, string Program, string Output)
{
    private const string Begin = "<!-- install:begin";
    private const string End = "<!-- install:end -->";

    /// <summary>The text between the install markers, markers included.</summary>
    public static string Section(string markdown)
    {
        int start = markdown.IndexOf(Begin, StringComparison.Ordinal), end = markdown.IndexOf(End, StringComparison.Ordinal);
        Assert.True(start >= 0 && end > start, "no install section (install:begin / install:end markers)");
        return markdown[start..(end + End.Length)];
    }

    public static ReadmeInstall Parse(string markdown)
    {
        string section = Section(markdown);
        var blocks = Regex.Matches(section, "```(?<lang>\\w*)\\n(?<body>.*?)```", RegexOptions.Singleline)
            .Select(m => (Lang: m.Groups["lang"].Value, Body: m.Groups["body"].Value)).ToList();
        var packages = Regex.Matches(blocks.First(b => b.Lang == "bash").Body, @"^dotnet add package (?<id>\S+) --version (?<version>\S+)\s*$", RegexOptions.Multiline)
            .Select(m => (m.Groups["id"].Value, m.Groups["version"].Value)).ToList();
        return new ReadmeInstall(packages, blocks.Single(b => b.Lang == "csharp").Body, blocks.Last(b => b.Lang == "").Body);
    }

    /// <summary>"shift X: score S, anomaly B (threshold T)" lines.</summary>
    public static List<(float Shift, float Score, bool Anomaly)> ScoreLines(string text) =>
        Regex.Matches(text, @"^shift (?<shift>\S+): score (?<score>\S+), anomaly (?<anomaly>True|False) \(threshold \S+\)\r?$", RegexOptions.Multiline)
            .Select(m => (float.Parse(m.Groups["shift"].Value, CultureInfo.InvariantCulture), float.Parse(m.Groups["score"].Value, CultureInfo.InvariantCulture),
                m.Groups["anomaly"].Value == "True"))
            .ToList();
}
