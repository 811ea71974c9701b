using System.Diagnostics;
using Microsoft.ML;
using MLNetVae.Cli.Evaluation;
using MLNetVae.Cli.Output;

namespace MLNetVae.Tests.Cli;

/// <summary>The CLI's metric and projection helpers on small hand-checked inputs (no training).</summary>
public class CliEvaluationTests
{
    [Fact]
    public void HigherScoresForAnomaliesGiveAucOneAndPerfectPrecision()
    {
        float[] labels = [0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1];
        float[] scores = labels.Select((l, i) => l == 1 ? 100f : i).ToArray();
        var result = AnomalyEvaluation.Evaluate(new MLContext(1), "m", labels, scores, 0, 0);

        Assert.Equal(1.0, result.RocAuc, 6);
        Assert.Equal(1, result.Flagged); // top 5% of 20 rows
        Assert.Equal(1.0, result.PrecisionAtThreshold);
        Assert.Equal(1.0, result.RecallAtThreshold);
    }

    [Fact]
    public void AucMatchesTheRankStatistic()
    {
        var random = new Random(3);
        var labels = Enumerable.Range(0, 200).Select(i => i % 10 == 0 ? 1f : 0f).ToArray();
        var scores = labels.Select(l => (float)(random.NextDouble() + 0.3 * l)).ToArray();
        var result = AnomalyEvaluation.Evaluate(new MLContext(1), "m", labels, scores, 0, 0);

        double pairs = 0, wins = 0;
        for (int a = 0; a < labels.Length; a++)
            for (int n = 0; n < labels.Length; n++)
                if (labels[a] == 1 && labels[n] == 0)
                {
                    pairs++;
                    wins += scores[a] > scores[n] ? 1 : scores[a] == scores[n] ? 0.5 : 0;
                }
        Assert.Equal(wins / pairs, result.RocAuc, 3);
    }

    [Fact]
    public void ProjectionFindsTheDirectionOfLargestVariance()
    {
        // Points spread along (1, 1, 0) with a little noise along (0, 0, 1).
        var rows = Enumerable.Range(0, 50).Select(i => new[] { i * 1f, i * 1f, (i % 2) * 0.1f }).ToArray();
        var projection = LatentProjection.ToTwoDimensions(rows);

        Assert.True(projection.ExplainedX > 0.99, $"explained {projection.ExplainedX}");
        Assert.True(projection.ExplainedX + projection.ExplainedY <= 1.0 + 1e-9);
        Assert.Equal(Math.Sqrt(2) * 49, projection.X.Max() - projection.X.Min(), 3);
    }

    [Fact]
    public void AnInfiniteScoreRanksAboveEveryFiniteOne()
    {
        // +∞ is the detector's score for a row whose error overflows float32: the furthest out, and flagged.
        float[] labels = [0, 0, 0, 0, 0, 0, 0, 0, 1, 1];
        float[] scores = [1, 2, 3, 4, 5, 6, 7, 8, 9.5f, float.PositiveInfinity];
        bool[] flagged = scores.Select(s => s > 9).ToArray();

        var atThreshold = AnomalyEvaluation.EvaluateAtThreshold(new MLContext(1), labels, scores, flagged, 9);
        Assert.Equal(1.0, atThreshold.RocAuc, 6);
        Assert.Equal(2, atThreshold.TruePositives);
        Assert.Equal(1.0, AnomalyEvaluation.Evaluate(new MLContext(1), "m", labels, scores, 0, 0, thresholdQuantile: 0.8).RocAuc, 6);
        Assert.Equal(1.0, RocCurve.Compute(labels, scores).TruePositiveRate.Last());

        // Swapping the +∞ onto a normal row makes it the highest-ranked normal row, as a huge finite score would.
        float[] swapped = [float.PositiveInfinity, 2, 3, 4, 5, 6, 7, 8, 9.5f, 9];
        double expected = AnomalyEvaluation.EvaluateAtThreshold(new MLContext(1), labels, [1e30f, 2, 3, 4, 5, 6, 7, 8, 9.5f, 9], flagged, 9).RocAuc;
        Assert.Equal(expected, AnomalyEvaluation.EvaluateAtThreshold(new MLContext(1), labels, swapped, flagged, 9).RocAuc, 6);
        Assert.True(expected < 1);
    }

    [Fact]
    public void ANaNScoreStopsTheEvaluationAndSaysWhichRow()
    {
        float[] labels = [0, 0, 1, 0];
        float[] scores = [1, 2, float.NaN, 3];
        var error = Assert.Throws<InvalidOperationException>(() =>
            AnomalyEvaluation.EvaluateAtThreshold(new MLContext(1), labels, scores, [false, false, false, false], 5));
        Assert.Contains("NaN score for 1 of 4 rows (the first is row 3)", error.Message);
    }

    [Fact]
    public void TheScoreHistogramPutsInfiniteScoresInItsLastBar()
    {
        string folder = Directory.CreateTempSubdirectory("mlnetvae-histogram-").FullName;
        try
        {
            string path = Path.Combine(folder, "histogram.png");
            float[] labels = [0, 0, 0, 0, 1, 1];
            float[] scores = [1, 2, 3, 4, 50, float.PositiveInfinity];
            var axis = HistogramAxis.For(scores, threshold: 10, bins: 40);
            Assert.True(axis.LogScale); // 1 to 50: over a decade
            Assert.Equal(0, axis.Min, 9);
            Assert.Equal(Math.Log10(50) / 40, axis.Width, 9); // the range of the finite scores, not stretched to +∞
            Assert.Equal(0, axis.BinOf(1));
            Assert.Equal(39, axis.BinOf(50));
            Assert.Equal(39, axis.BinOf(float.PositiveInfinity));

            Plots.ScoreHistogram(path, scores, labels, 10, "score", "title");
            Assert.True(new FileInfo(path).Length > 1000, "no plot written");
        }
        finally
        {
            Directory.Delete(folder, recursive: true);
        }
    }

    [Fact]
    public void AHungIsolationForestScriptIsStoppedAndTheComparisonSaysWhy()
    {
        // The "script" never answers. The call must return within its timeout, with the reason.
        var clock = Stopwatch.StartNew();
        var (results, skipped, _) = RunShellAsPython("sleep 60\n", TimeSpan.FromSeconds(1));

        Assert.Null(results);
        Assert.Contains("no answer within 1 s", skipped);
        Assert.True(clock.Elapsed < TimeSpan.FromSeconds(30), $"returned after {clock.Elapsed}");
    }

    [Fact]
    public void AFailingIsolationForestScriptIsReportedWithItsLastErrorLine()
    {
        var (results, skipped, script) = RunShellAsPython("echo 'first line' >&2; echo 'ValueError: bad split' >&2; exit 3\n", TimeSpan.FromMinutes(1));

        Assert.Null(results);
        Assert.Equal($"{script} failed: ValueError: bad split", skipped);
    }

    /// <summary>Runs the IsolationForest baseline with /bin/sh standing in for Python and <paramref name="body"/> as its script.</summary>
    private static (IReadOnlyList<IsolationForestResult>? Results, string? Skipped, string Script) RunShellAsPython(string body, TimeSpan timeout)
    {
        string folder = Directory.CreateTempSubdirectory("mlnetvae-fake-python-").FullName;
        try
        {
            string script = Path.Combine(folder, "script.sh");
            File.WriteAllText(script, body);
            var (results, skipped) = IsolationForestBaseline.Run(
                new Dictionary<string, string> { ["demo"] = "unused.csv" }, [new IsolationForestSplit("demo", 0, [0], [0])],
                timeout, scriptPath: script, pythonPath: "/bin/sh");
            return (results, skipped, script);
        }
        finally
        {
            Directory.Delete(folder, recursive: true);
        }
    }
}
