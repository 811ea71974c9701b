using Microsoft.ML;
using Microsoft.ML.Data;
using MLNetVae.Tests.TestSupport;
using Xunit.Abstractions;
using static MLNetVae.Tests.AnomalyDetection.AnomalyTestData;

namespace MLNetVae.Tests.AnomalyDetection;

/// <summary>
/// Rows moved far out along one feature (ODDS cardio, shipped): every score kind gives every such finite row a
/// number (finite or +∞, never NaN), flags it (the Student-t likelihood from 1e4 on), and never scores a row lower than a milder one along the same
/// feature, through <c>Transform</c>, a <c>PredictionEngine</c> and a model saved and loaded with <c>ml.Model.Load</c>.
/// Before the score clamped logvar, one feature at 1e5 scored NaN and was labelled normal.
/// </summary>
public sealed class FarOutRowTests : IDisposable
{
    private static readonly float[] Magnitudes = Enumerable.Range(2, 29).Select(e => (float)Math.Pow(10, e)).ToArray(); // 1e2 … 1e30

    private readonly ITestOutputHelper output;
    private readonly string folder = Directory.CreateTempSubdirectory("mlnetvae-far-out-").FullName;

    public FarOutRowTests(ITestOutputHelper output) => this.output = output;

    public void Dispose() => Directory.Delete(folder, recursive: true);

    private static string CardioCsv => Path.Combine(AppContext.BaseDirectory, "TestData", "odds", "cardio.csv");

    public sealed class Row
    {
        [VectorType(21)] public float[] Features { get; set; } = Array.Empty<float>();
    }

    public sealed class Scored
    {
        public float Score { get; set; }
        public bool PredictedLabel { get; set; }
    }

    [Theory]
    [InlineData(VaeAnomalyScoreKind.NegativeElbo)]
    [InlineData(VaeAnomalyScoreKind.MonteCarloReconstructionError)]
    [InlineData(VaeAnomalyScoreKind.ReconstructionError)]
    // The Student-t term of one feature grows as 3 · ln|r|: 100 standard deviations on one of cardio's 21 features add
    // ~13, under the threshold (~19); from 1e4 on (~27) every probe is flagged. Rising and never NaN at every magnitude.
    [InlineData(VaeAnomalyScoreKind.NegativeElbo, VaeAnomalyLikelihood.StudentT, 1e4f)]
    public void EveryFarOutRowGetsANumberIsFlaggedAndScoresAtLeastTheMilderRow(VaeAnomalyScoreKind kind,
        VaeAnomalyLikelihood likelihood = VaeAnomalyLikelihood.Gaussian, float flaggedFrom = 1e2f)
    {
        var ml = new MLContext(seed: 1);
        var data = ml.Data.Cache(TestData.LoadLabelledCsv(ml, CardioCsv));
        using var detector = ml.AnomalyDetection.Trainers.VariationalAutoencoder(new VaeAnomalyOptions
        {
            ScoreKind = kind, Likelihood = likelihood, Epochs = 20, NumberOfThreads = 1, Seed = 1,
        }).Fit(data);
        Assert.True(float.IsFinite(detector.Threshold), $"threshold {detector.Threshold}");

        // Row 0 of cardio is normal; each probe sets one feature to ±1e2 … ±1e30 (sign-major, then magnitude).
        var baseRow = TestData.ReadVectors(data, "Features")[0];
        int features = baseRow.Length;
        var probes = new List<float[]>();
        for (int j = 0; j < features; j++)
            foreach (float sign in new[] { 1f, -1f })
                foreach (float magnitude in Magnitudes)
                {
                    var row = (float[])baseRow.Clone();
                    row[j] = sign * magnitude;
                    probes.Add(row);
                }
        var probeData = ml.Data.LoadFromEnumerable(probes.Select(p => new Row { Features = p }).ToList());

        // Batched, one row at a time, and the saved model's ONNX graph.
        var batched = TestData.ReadScalars(detector.Transform(probeData), "Score");
        var batchedLabels = ReadBooleans(detector.Transform(probeData), "PredictedLabel");
        using var engine = ml.Model.CreatePredictionEngine<Row, Scored>(detector, new PredictionEngineOptions { OwnsTransformer = false });
        var single = probes.Select(p => engine.Predict(new Row { Features = p })).ToArray();
        string path = Path.Combine(folder, $"{kind}-{likelihood}.zip");
        ml.Model.Save(detector, data.Schema, path);
        var fresh = new MLContext(seed: 5);
        fresh.RegisterVaeComponents();
        var loaded = fresh.Model.Load(path, out _).Transform(probeData);
        var saved = TestData.ReadScalars(loaded, "Score");
        var savedLabels = ReadBooleans(loaded, "PredictedLabel");

        int infinite = 0;
        for (int i = 0; i < probes.Count; i++)
        {
            string where = $"probe {i} (feature {i / (2 * Magnitudes.Length)}, value {probes[i][i / (2 * Magnitudes.Length)]:G3})";
            foreach (var (path_, score, label) in new[] { ("Transform", batched[i], batchedLabels[i]), ("PredictionEngine", single[i].Score, single[i].PredictedLabel), ("ml.Model.Load", saved[i], savedLabels[i]) })
            {
                Assert.False(float.IsNaN(score), $"{where}: {path_} scored NaN");
                if (Math.Abs(probes[i][i / (2 * Magnitudes.Length)]) < flaggedFrom)
                    continue;
                Assert.True(score > detector.Threshold, $"{where}: {path_} scored {score:G6}, not above the threshold {detector.Threshold:G6}");
                Assert.True(label, $"{where}: {path_} did not flag it (score {score:G6})");
            }
            Assert.True(SameScore(batched[i], single[i].Score), $"{where}: Transform {batched[i]:G9}, PredictionEngine {single[i].Score:G9}");
            Assert.True(SameScore(batched[i], saved[i]), $"{where}: Transform {batched[i]:G9}, saved model {saved[i]:G9}");
            if (float.IsPositiveInfinity(batched[i]))
                infinite++;
        }
        output.WriteLine($"{kind} ({likelihood}): threshold {detector.Threshold:G6}; {infinite} of {probes.Count} probes score +inf (float32 overflow).");

        // Further out along the same feature and direction never scores lower (each path on its own).
        foreach (var scores in new[] { batched, single.Select(s => s.Score).ToArray(), saved })
            for (int run = 0; run < 2 * features; run++)
                for (int m = 1; m < Magnitudes.Length; m++)
                {
                    int i = run * Magnitudes.Length + m;
                    Assert.True(scores[i] >= scores[i - 1],
                        $"feature {run / 2}, {(run % 2 == 0 ? "+" : "-")}{Magnitudes[m]:G3} scores {scores[i]:G6}, below {scores[i - 1]:G6} at {Magnitudes[m - 1]:G3}");
                }
    }

    /// <summary>Equal within float32 rounding of different summation orders; near float32's limit one path may overflow first.</summary>
    private static bool SameScore(float a, float b)
    {
        if (float.IsPositiveInfinity(a) || float.IsPositiveInfinity(b))
            return Math.Min(a, b) > 1e36f;
        return Close(a, b, 1e-4);
    }
}
