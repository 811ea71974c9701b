using System.Diagnostics;
using Microsoft.ML;
using MLNetVae.Cli.Evaluation;

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
    public void AHungIsolationForestScriptIsStoppedAndTheComparisonSaysWhy()
    {
        // /bin/sh stands in for Python: the "script" never answers. The call must return within its timeout, with the reason.
        string folder = Directory.CreateTempSubdirectory("mlnetvae-hung-python-").FullName;
        try
        {
            string script = Path.Combine(folder, "hang.sh");
            File.WriteAllText(script, "sleep 60\n");
            var clock = Stopwatch.StartNew();
            var (results, skipped) = IsolationForestBaseline.Run(
                new Dictionary<string, string> { ["demo"] = "unused.csv" }, [new IsolationForestSplit("demo", 0, [0], [0])],
                TimeSpan.FromSeconds(1), scriptPath: script, pythonPath: "/bin/sh");

            Assert.Null(results);
            Assert.Contains("no answer within 1 s", skipped);
            Assert.True(clock.Elapsed < TimeSpan.FromSeconds(30), $"returned after {clock.Elapsed}");
        }
        finally
        {
            Directory.Delete(folder, recursive: true);
        }
    }

    [Fact]
    public void AFailingIsolationForestScriptIsReportedWithItsLastErrorLine()
    {
        string folder = Directory.CreateTempSubdirectory("mlnetvae-failing-python-").FullName;
        try
        {
            string script = Path.Combine(folder, "fail.sh");
            File.WriteAllText(script, "echo 'first line' >&2; echo 'ValueError: bad split' >&2; exit 3\n");
            var (results, skipped) = IsolationForestBaseline.Run(
                new Dictionary<string, string> { ["demo"] = "unused.csv" }, [new IsolationForestSplit("demo", 0, [0], [0])],
                TimeSpan.FromMinutes(1), scriptPath: script, pythonPath: "/bin/sh");

            Assert.Null(results);
            Assert.Equal($"{script} failed: ValueError: bad split", skipped);
        }
        finally
        {
            Directory.Delete(folder, recursive: true);
        }
    }
}
