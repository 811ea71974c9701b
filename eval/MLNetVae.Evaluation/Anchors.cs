using MLNetVae.Cli.Evaluation;

namespace MLNetVae.Evaluation;

/// <summary>
/// The classic detectors the VAE is compared with, measured on exactly the VAE's splits: the split indices go to
/// <c>scripts/isolation_forest.py</c> (scikit-learn's IsolationForest with its defaults, <c>random_state</c> = the seed, on the
/// training split standardized as the VAE's was), which returns the ROC-AUC per split. ML.NET has no IsolationForest;
/// scikit-learn's is the reference implementation users would compare with. Python is <c>MLNETVAE_PYTHON</c> or
/// <c>/usr/bin/python3</c>; <c>scripts/evaluate.sh</c> installs Debian's python3-sklearn when it runs as root.
/// </summary>
public static class Anchors
{
    public sealed record Result(Dictionary<string, Stat>? Scores, string? Skipped);

    public static Result Run(IReadOnlyList<SplitRows> splits, IReadOnlyList<DataSet> sets)
    {
        var (results, skipped) = IsolationForestBaseline.Run(
            sets.ToDictionary(s => s.Name, s => s.Path),
            splits.Select(s => new IsolationForestSplit(s.Set, s.Seed, s.Train, s.Test)).ToList(),
            timeout: TimeSpan.FromMinutes(20),  // 115 splits take about a minute on 2 cores
            scriptPath: Path.Combine(Arguments.RepoRoot(), "scripts", "isolation_forest.py"));
        if (results is null)
            return new(null, skipped);
        Console.Error.WriteLine($"  anchors: IsolationForest on {results.Count} splits of {results.Select(r => r.Set).Distinct().Count()} sets in {results.Sum(r => r.FitSeconds + r.ScoreSeconds):0} s");
        return new(results.GroupBy(r => r.Set).ToDictionary(g => g.Key, g => Stat.Of(g.Select(r => r.RocAuc).ToList())), null);
    }
}
