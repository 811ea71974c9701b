using System.Diagnostics;
using System.Text.Json;

namespace MLNetVae.Evaluation;

/// <summary>
/// The classic detectors the VAE is compared with, measured on exactly the VAE's splits: the split indices go to
/// <c>eval/anchors.py</c> (scikit-learn's IsolationForest with its defaults, <c>random_state</c> = the seed, on the
/// training split standardized as the VAE's was), which returns the ROC-AUC per split. ML.NET has no IsolationForest;
/// scikit-learn's is the reference implementation users would compare with. Python is <c>MLNETVAE_PYTHON</c> or
/// <c>/usr/bin/python3</c>; <c>scripts/evaluate.sh</c> installs Debian's python3-sklearn when it runs as root.
/// </summary>
public static class Anchors
{
    public sealed record Result(Dictionary<string, Stat>? Scores, string? Skipped);

    public static Result Run(IReadOnlyList<SplitRows> splits, IReadOnlyList<DataSet> sets)
    {
        string python = Environment.GetEnvironmentVariable("MLNETVAE_PYTHON") ?? "/usr/bin/python3";
        string script = Path.Combine(Arguments.RepoRoot(), "eval", "anchors.py");
        if (!File.Exists(python))
            return new(null, $"{python} not found (set MLNETVAE_PYTHON).");
        string folder = Directory.CreateTempSubdirectory("mlnetvae-anchors-").FullName;
        try
        {
            string jobs = Path.Combine(folder, "jobs.json"), output = Path.Combine(folder, "auc.json");
            var paths = sets.ToDictionary(s => s.Name, s => s.Path);
            File.WriteAllText(jobs, JsonSerializer.Serialize(new
            {
                data = paths,
                splits = splits.Select(s => new { set = s.Set, seed = s.Seed, train = s.Train, test = s.Test }),
            }));
            var start = new ProcessStartInfo(python, [script, jobs, output]) { RedirectStandardError = true, RedirectStandardOutput = true };
            using var process = Process.Start(start)!;
            var stderr = process.StandardError.ReadToEndAsync();
            var stdout = process.StandardOutput.ReadToEndAsync();
            process.WaitForExit();
            if (process.ExitCode != 0)
            {
                string error = stderr.Result.Trim().Split('\n').LastOrDefault() ?? "";
                return new(null, error.Contains("sklearn", StringComparison.Ordinal)
                    ? "scikit-learn is not installed (apt-get install python3-sklearn; scripts/evaluate.sh does it when run as root)."
                    : $"{script} failed: {error}");
            }
            using var document = JsonDocument.Parse(File.ReadAllText(output));
            var bySet = new Dictionary<string, List<double>>();
            foreach (var item in document.RootElement.GetProperty("auc").EnumerateArray())
            {
                string set = item.GetProperty("set").GetString()!;
                (bySet.TryGetValue(set, out var list) ? list : bySet[set] = new()).Add(item.GetProperty("IForest").GetDouble());
            }
            Console.Error.WriteLine($"  anchors: {stdout.Result.Trim().Split('\n').LastOrDefault()}");
            return new(bySet.ToDictionary(p => p.Key, p => Stat.Of(p.Value)), null);
        }
        finally
        {
            Directory.Delete(folder, recursive: true);
        }
    }
}
