using System.Diagnostics;
using System.Text.Json;

namespace MLNetVae.Cli.Evaluation;

/// <summary>One split for <c>scripts/isolation_forest.py</c>: the rows (of the set's CSV) it trains on and the rows it scores.</summary>
internal sealed record IsolationForestSplit(string Set, int Seed, int[] Train, int[] Test, bool WithScores = false);

/// <summary>What the script returned for a split: ROC-AUC, the fit and score times, and the scores when asked for.</summary>
internal sealed record IsolationForestResult(string Set, int Seed, double RocAuc, double FitSeconds, double ScoreSeconds, float[]? Scores);

/// <summary>
/// scikit-learn's IsolationForest (its defaults, <c>random_state</c> = the seed), the classic detector the VAE is compared
/// with, run by <c>scripts/isolation_forest.py</c> in <c>MLNETVAE_PYTHON</c> or <c>/usr/bin/python3</c>. ML.NET has no
/// IsolationForest, and scikit-learn's is the one users would compare with, so the comparison calls it rather than a
/// port. Optional: without Python or scikit-learn the caller gets the reason instead of results and shows it.
/// </summary>
internal static class IsolationForestBaseline
{
    /// <summary>
    /// Results per split, or null and the reason it could not run (no Python, no scikit-learn, script failure, or no
    /// answer within <paramref name="timeout"/>: the interpreter is then killed, so a hung Python never hangs the demo).
    /// </summary>
    public static (IReadOnlyList<IsolationForestResult>? Results, string? Skipped) Run(
        IReadOnlyDictionary<string, string> csvBySet, IReadOnlyList<IsolationForestSplit> splits, TimeSpan timeout,
        string? scriptPath = null, string? pythonPath = null)
    {
        string python = pythonPath ?? Environment.GetEnvironmentVariable("MLNETVAE_PYTHON") ?? "/usr/bin/python3";
        string script = scriptPath ?? Path.Combine(AppContext.BaseDirectory, "scripts", "isolation_forest.py");
        if (!File.Exists(python))
            return (null, $"{python} not found (set MLNETVAE_PYTHON).");
        if (!File.Exists(script))
            return (null, $"{script} not found.");
        string folder = Directory.CreateTempSubdirectory("mlnetvae-isolation-forest-").FullName;
        try
        {
            string jobs = Path.Combine(folder, "jobs.json"), output = Path.Combine(folder, "out.json");
            File.WriteAllText(jobs, JsonSerializer.Serialize(new
            {
                data = csvBySet,
                splits = splits.Select(s => new { set = s.Set, seed = s.Seed, train = s.Train, test = s.Test, scores = s.WithScores }),
            }));
            var start = new ProcessStartInfo(python, [script, jobs, output]) { RedirectStandardError = true, RedirectStandardOutput = true };
            using var process = Process.Start(start)!;
            var stderr = process.StandardError.ReadToEndAsync();
            var stdout = process.StandardOutput.ReadToEndAsync();
            if (!process.WaitForExit(timeout))
            {
                process.Kill(entireProcessTree: true);
                process.WaitForExit();
                return (null, $"{script} gave no answer within {timeout.TotalSeconds:0} s and was stopped.");
            }
            if (process.ExitCode != 0)
            {
                string error = stderr.Result.Trim().Split('\n').LastOrDefault() ?? "";
                return (null, error.Contains("sklearn", StringComparison.Ordinal)
                    ? "scikit-learn is not installed (apt-get install python3-sklearn; scripts/evaluate.sh does it when run as root)."
                    : $"{script} failed: {error}");
            }
            using var document = JsonDocument.Parse(File.ReadAllText(output));
            var results = document.RootElement.GetProperty("auc").EnumerateArray().Select(item => new IsolationForestResult(
                item.GetProperty("set").GetString()!,
                item.GetProperty("seed").GetInt32(),
                item.GetProperty("IForest").GetDouble(),
                item.GetProperty("fit_seconds").GetDouble(),
                item.GetProperty("score_seconds").GetDouble(),
                item.TryGetProperty("scores", out var scores) ? scores.EnumerateArray().Select(v => (float)v.GetDouble()).ToArray() : null)).ToList();
            return (results, null);
        }
        finally
        {
            Directory.Delete(folder, recursive: true);
        }
    }
}
