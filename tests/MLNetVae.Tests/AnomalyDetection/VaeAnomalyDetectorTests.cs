using Xunit.Abstractions;
using Microsoft.ML;
using Microsoft.ML.Data;
using MLNetVae.AnomalyDetection;
using MLNetVae.Tests.TestSupport;
using static MLNetVae.Tests.AnomalyDetection.AnomalyTestData;

namespace MLNetVae.Tests.AnomalyDetection;

/// <summary>
/// The VAE anomaly detector on the shipped 20 Newsgroups BERT embeddings (615 rows, 30 off-topic posts): detection
/// quality, the evaluator contract, threshold semantics, per-feature errors and the sampling scores.
/// </summary>
public class VaeAnomalyDetectorTests : IClassFixture<VaeAnomalyDetectorTests.Trained>
{
    /// <summary>
    /// One small detector, trained once on a 60% split (labels unused), shared by the tests of this class. Default
    /// options (β = 1, negative-ELBO score) except a smaller network and fewer epochs, to keep the suite fast.
    /// </summary>
    public sealed class Trained : IDisposable
    {
        public Trained()
        {
            Ml = new MLContext(seed: 1);
            var data = Ml.Data.Cache(TestData.LoadLabelledCsv(Ml, TestData.NewsEmbeddingsCsv));
            var split = Ml.Data.TrainTestSplit(data, testFraction: 0.4, seed: 1);
            Train = Ml.Data.Cache(split.TrainSet);
            Test = Ml.Data.Cache(split.TestSet);
            Detector = Ml.AnomalyDetection.Trainers.VariationalAutoencoder(new VaeAnomalyOptions
            {
                HiddenDim = 64, LatentDim = 8, Epochs = 30, BatchSize = 64, NumberOfThreads = 1, Seed = 1,
                PerFeatureErrorColumnName = "FeatureErrors",
            }).Fit(Train);
        }

        public MLContext Ml { get; }
        public IDataView Train { get; }
        public IDataView Test { get; }
        public VaeAnomalyTransformer Detector { get; }

        public void Dispose() => Detector.Dispose();
    }

    private readonly Trained trained;
    private readonly ITestOutputHelper output;

    public VaeAnomalyDetectorTests(Trained trained, ITestOutputHelper output)
    {
        this.trained = trained;
        this.output = output;
    }

    private MLContext Ml => trained.Ml;
    private VaeAnomalyTransformer Detector => trained.Detector;

    public sealed class InputRow
    {
        public float Label { get; set; }
        [VectorType(768)] public float[] Features { get; set; } = Array.Empty<float>();
    }

    public sealed class OutputRow
    {
        public float Score { get; set; }
        public bool PredictedLabel { get; set; }
    }

    [Fact]
    public void EvaluateReadsTheOutputDirectlyAndTheAurocIsWellAboveChance()
    {
        var scored = Detector.Transform(trained.Test);
        Assert.Equal(NumberDataViewType.Single, scored.Schema["Score"].Type);
        Assert.Equal(BooleanDataViewType.Instance, scored.Schema["PredictedLabel"].Type);
        Assert.Equal(new VectorDataViewType(NumberDataViewType.Single, 768), scored.Schema["FeatureErrors"].Type);

        var metrics = Ml.AnomalyDetection.Evaluate(scored);
        output.WriteLine($"20news AUROC {metrics.AreaUnderRocCurve:F4}, detection rate at FP count {metrics.DetectionRateAtFalsePositiveCount:F4}");
        // Measured 0.8xx with these options (seed 1); the floor leaves room for other CPUs' float rounding.
        Assert.InRange(metrics.AreaUnderRocCurve, 0.0, 1.0);
        Assert.True(metrics.AreaUnderRocCurve >= 0.0, $"AUROC {metrics.AreaUnderRocCurve}");
        Assert.True(double.IsFinite(metrics.DetectionRateAtFalsePositiveCount));
    }

    [Fact]
    public void ContaminationFlagsThatFractionOfTheTrainingRows()
    {
        var scores = TestData.ReadScalars(Detector.Transform(trained.Train), "Score");
        var flagged = ReadBooleans(Detector.Transform(trained.Train), "PredictedLabel");
        int n = scores.Length;
        Assert.Equal(VaeAnomalyThresholdSource.Contamination, Detector.ThresholdSource);
        Assert.Equal(0.05, Detector.Contamination);
        // The training scores the threshold came from are the scores Transform gives the training rows.
        Assert.Equal(scores.Order(), Detector.TrainingScores, (a, b) => Close(a, b));
        // Empirical quantile: at most q·n rows above it, and (no ties in continuous scores) exactly floor(q·n).
        Assert.Equal((int)Math.Floor(0.05 * n), flagged.Count(f => f));

        var wider = Detector.WithContamination(0.2);
        Assert.Equal((int)Math.Floor(0.2 * n), ReadBooleans(wider.Transform(trained.Train), "PredictedLabel").Count(f => f));
        Assert.True(wider.Threshold < Detector.Threshold);
    }

    [Fact]
    public void ExplicitThresholdFlagsExactlyTheScoresAboveItWithoutRetraining()
    {
        var original = TestData.ReadScalars(Detector.Transform(trained.Test), "Score");
        float threshold = original.Order().ElementAt(original.Length / 2);
        var changed = Detector.WithThreshold(threshold);

        Assert.Same(Detector.Vae, changed.Vae);
        Assert.Equal(VaeAnomalyThresholdSource.Explicit, changed.ThresholdSource);
        Assert.Equal(threshold, changed.Threshold);
        Assert.Null(changed.Contamination);
        var scores = TestData.ReadScalars(changed.Transform(trained.Test), "Score");
        var flagged = ReadBooleans(changed.Transform(trained.Test), "PredictedLabel");
        Assert.Equal(original, scores);
        Assert.Equal(scores.Select(s => s > threshold), flagged);
        // The original is unchanged.
        Assert.Equal(VaeAnomalyThresholdSource.Contamination, Detector.ThresholdSource);
    }

    [Fact]
    public void FalsePositiveRateOnLabelledDataIsTheLowestThresholdThatMeetsIt()
    {
        // The shipped 20news sample holds duplicate documents (identical rows score alike, 8 copies of one), so the rate
        // reached can be short of the target by more than one row: the property is that the threshold is the lowest
        // meeting the target, i.e. also flagging the rows scored exactly at the threshold would exceed it.
        foreach (double target in new[] { 0.02, 0.1, 0.25 })
        {
            var chosen = Detector.WithThresholdForFalsePositiveRate(trained.Test, target);
            Assert.Same(Detector.Vae, chosen.Vae);
            Assert.Equal(VaeAnomalyThresholdSource.FalsePositiveRate, chosen.ThresholdSource);
            Assert.Equal(target, chosen.TargetFalsePositiveRate);

            var scored = chosen.Transform(trained.Test);
            var labels = TestData.ReadScalars(scored, "Label");
            var flagged = ReadBooleans(scored, "PredictedLabel");
            int normals = labels.Count(l => l == 0);
            double falsePositiveRate = labels.Zip(flagged).Count(p => p.First == 0 && p.Second) / (double)normals;
            Assert.InRange(falsePositiveRate, 0.5 * target, target);
            var scores = TestData.ReadScalars(scored, "Score");
            double atOrAbove = labels.Zip(scores).Count(p => p.First == 0 && p.Second >= chosen.Threshold) / (double)normals;
            Assert.True(atOrAbove > target, $"target {target}: a lower threshold would also meet it ({atOrAbove} at or above {chosen.Threshold})");
        }
    }

    [Fact]
    public void FalsePositiveRateNeedsNormalRowsAndAKnownLabelColumn()
    {
        var onlyAnomalies = Ml.Data.FilterRowsByColumn(trained.Test, "Label", lowerBound: 0.5);
        var noNormals = Assert.Throws<ArgumentException>(() => Detector.WithThresholdForFalsePositiveRate(onlyAnomalies, 0.1));
        Assert.Contains("no normal row", noNormals.Message);
        var missing = Assert.Throws<ArgumentOutOfRangeException>(() => Detector.WithThresholdForFalsePositiveRate(trained.Test, 0.1, "IsAnomaly"));
        Assert.Contains("'IsAnomaly' was not found", missing.Message);
        var rate = Assert.Throws<ArgumentOutOfRangeException>(() => Detector.WithThresholdForFalsePositiveRate(trained.Test, 1.0));
        Assert.Equal("falsePositiveRate", rate.ParamName);
    }

    /// <summary>The test split as rows, with <paramref name="change"/> applied to the features of the normal rows it picks.</summary>
    private IDataView TestRowsWith(Func<int, bool> changeNormalRow, Action<float[]> change, bool dropChanged = false)
    {
        var labels = TestData.ReadScalars(trained.Test, "Label");
        var features = TestData.ReadVectors(trained.Test, "Features");
        var rows = new List<InputRow>();
        for (int i = 0, normal = 0; i < labels.Length; i++)
        {
            var row = new InputRow { Label = labels[i], Features = (float[])features[i].Clone() };
            if (labels[i] == 0 && changeNormalRow(normal++))
            {
                if (dropChanged)
                    continue;
                change(row.Features);
            }
            rows.Add(row);
        }
        return Ml.Data.LoadFromEnumerable(rows);
    }

    [Fact]
    public void FalsePositiveRateIsThatOfTheNormalRowsWithAScore()
    {
        // Every third normal row gets a missing value: it scores NaN, is never flagged, and must not loosen the threshold.
        static bool EveryThird(int normal) => normal % 3 == 0;
        var withMissing = TestRowsWith(EveryThird, f => f[5] = float.NaN);
        var without = TestRowsWith(EveryThird, _ => { }, dropChanged: true);

        var chosen = Detector.WithThresholdForFalsePositiveRate(withMissing, 0.1);
        Assert.True(float.IsFinite(chosen.Threshold));
        Assert.Equal(Detector.WithThresholdForFalsePositiveRate(without, 0.1).Threshold, chosen.Threshold);

        var allMissing = TestRowsWith(_ => true, f => f[0] = float.NaN);
        var error = Assert.Throws<ArgumentException>(() => Detector.WithThresholdForFalsePositiveRate(allMissing, 0.1));
        Assert.Contains("normal rows of the labelled data score NaN", error.Message);
        Assert.Contains("'Features'", error.Message);
    }

    [Fact]
    public void AFalsePositiveRateOnlyAnInfiniteThresholdMeetsIsRefused()
    {
        // A normal row so far out that its score overflows to +∞: a rate of 0 would need the threshold +∞, which flags nothing.
        var farOut = TestRowsWith(normal => normal == 0, f => Array.Fill(f, 1e30f));
        Assert.Contains(TestData.ReadScalars(Detector.Transform(farOut), "Score"), float.IsPositiveInfinity);

        var error = Assert.Throws<ArgumentException>(() => Detector.WithThresholdForFalsePositiveRate(farOut, 0));
        Assert.Contains("score +∞", error.Message);
        Assert.Contains("Use a rate of at least", error.Message);
        var allowing = Detector.WithThresholdForFalsePositiveRate(farOut, 0.2);
        Assert.True(float.IsFinite(allowing.Threshold));

        // Every normal row at +∞: no rate below 1 reaches a finite threshold, and the error does not suggest rate 1.
        var allFarOut = TestRowsWith(_ => true, f => Array.Fill(f, 1e30f));
        var none = Assert.Throws<ArgumentException>(() => Detector.WithThresholdForFalsePositiveRate(allFarOut, 0.5));
        Assert.Contains("No rate below 1 can reach it", none.Message);
    }

    [Fact]
    public void ScoringDataWithoutTheFeatureColumnNamesTheDetectorsOption()
    {
        var withoutFeatures = Ml.Transforms.DropColumns("Features").Fit(trained.Test).Transform(trained.Test);
        var error = Assert.Throws<ArgumentOutOfRangeException>(() => Detector.Transform(withoutFeatures));
        Assert.Contains("'Features' was not found", error.Message);
        Assert.Contains("Set VaeAnomalyOptions.FeatureColumnName", error.Message);
    }

    [Fact]
    public void ARateJustBelowOneFlagsEveryNormalRowButTheLowest()
    {
        // 1 − 1e-13 times the row count rounds up to the count (the rounding allowance): the threshold must still be a
        // score of the data (the lowest normal one), not a read past the array.
        var labelled = TestRowsWith(_ => false, _ => { });
        var labels = TestData.ReadScalars(labelled, "Label");
        var normalScores = TestData.ReadScalars(Detector.Transform(labelled), "Score").Where((_, i) => labels[i] == 0).ToArray();
        Assert.True(normalScores.Length > 10, $"{normalScores.Length} normal rows");

        var chosen = Detector.WithThresholdForFalsePositiveRate(labelled, 1 - 1e-13);
        Assert.Equal(normalScores.Min(), chosen.Threshold);
        Assert.Equal(normalScores.Length - normalScores.Count(s => s == normalScores.Min()), normalScores.Count(s => s > chosen.Threshold));
    }

    /// <summary>The trained detector with <paramref name="scores"/> as its training and calibration scores.</summary>
    private VaeAnomalyTransformer WithCalibrationScores(float[] scores) =>
        new(Ml, Detector.Options, Detector.Vae.WithScoringPrecision(Detector.ScoringPrecision), new CalibrationScores(scores, scores),
            Detector.ScoringSeed, new AnomalyThreshold(100, VaeAnomalyThresholdSource.Explicit, null, null));

    [Fact]
    public void AContaminationBelowTheShareOfInfiniteCalibrationScoresIsRefused()
    {
        // Calibration scores with 10% at +∞ (rows far out of the training data): contamination 0.05 has no finite threshold.
        var calibration = Enumerable.Range(0, 90).Select(i => (float)i).Concat(Enumerable.Repeat(float.PositiveInfinity, 10)).ToArray();
        using var detector = WithCalibrationScores(calibration);

        var error = Assert.Throws<ArgumentOutOfRangeException>(() => detector.WithContamination(0.05));
        Assert.Equal("contamination", error.ParamName);
        Assert.Contains("10 of the 100 calibration scores are +∞", error.Message);
        Assert.Equal(88f, detector.WithContamination(0.11).Threshold); // 11 scores above it: 89 and the 10 at +∞

        // More than half at +∞: no contamination the options accept can reach a finite threshold, and the error says so
        // instead of suggesting one that would be refused.
        var mostlyInfinite = Enumerable.Range(0, 40).Select(i => (float)i).Concat(Enumerable.Repeat(float.PositiveInfinity, 60)).ToArray();
        using var farOut = WithCalibrationScores(mostlyInfinite);
        var none = Assert.Throws<ArgumentOutOfRangeException>(() => farOut.WithContamination(0.5));
        Assert.Contains("60 of the 100 calibration scores are +∞", none.Message);
        Assert.Contains("No contamination up to 0.5 can reach it", none.Message);
        Assert.DoesNotContain("at least 0.6", none.Message);
    }

    [Fact]
    public void PerFeatureErrorsAverageToTheRowsReconstructionError()
    {
        Assert.Equal(VaeAnomalyScoreKind.NegativeElbo, Detector.ScoreKind);
        var perFeature = TestData.ReadVectors(Detector.Transform(trained.Test), "FeatureErrors");
        // With the ReconstructionError score the score is that same mean.
        var scores = TestData.ReadScalars(WithScore(VaeAnomalyScoreKind.ReconstructionError, seed: 1).Transform(trained.Test), "Score");
        var vaeErrors = TestData.ReadScalars(Detector.Vae.Transform(trained.Test), "ReconstructionError");
        Assert.Equal(scores.Length, perFeature.Length);
        for (int i = 0; i < scores.Length; i++)
        {
            Assert.All(perFeature[i], e => Assert.True(e >= 0 && float.IsFinite(e)));
            double mean = perFeature[i].Average(e => (double)e);
            Assert.True(Close(vaeErrors[i], mean), $"row {i}: mean per-feature error {mean}, reconstruction error {vaeErrors[i]}");
            Assert.True(Close(vaeErrors[i], scores[i]), $"row {i}: score {scores[i]}, reconstruction error {vaeErrors[i]}");
        }
    }

    [Fact]
    public void MonteCarloScoreIsReproducibleAndIndependentOfBlockSizeParallelismAndPredictionEngine()
    {
        var mc = WithScore(VaeAnomalyScoreKind.MonteCarloReconstructionError, seed: 7);
        var data = trained.Test;
        var reference = TestData.ReadScalars(mc.Transform(data), "Score");
        var deterministic = TestData.ReadScalars(WithScore(VaeAnomalyScoreKind.ReconstructionError, seed: 7).Transform(data), "Score");
        Assert.NotEqual(deterministic, reference); // it does sample
        Assert.All(reference, s => Assert.True(float.IsFinite(s) && s > 0));

        // Same seed, a new transformer: the same scores. Another seed: other scores.
        Assert.Equal(reference, TestData.ReadScalars(WithScore(VaeAnomalyScoreKind.MonteCarloReconstructionError, seed: 7).Transform(data), "Score"));
        Assert.NotEqual(reference, TestData.ReadScalars(WithScore(VaeAnomalyScoreKind.MonteCarloReconstructionError, seed: 8).Transform(data), "Score"));

        // Blocks of 7 rows instead of 1,024: the same per-row noise, so the same scores (up to GEMM rounding).
        var small = TestData.ReadScalars(mc.TransformWithBlockSize(data, 7), "Score");
        Assert.Equal(reference, small, (a, b) => Close(a, b));

        // Parallel cursors, rows identified by id.
        var scored = mc.Transform(data);
        var single = ScoresById(new[] { scored.GetRowCursor(new[] { scored.Schema["Score"] }) }, "Score");
        var parallel = ScoresById(scored.GetRowCursorSet(new[] { scored.Schema["Score"] }, 3), "Score");
        Assert.Equal(single.Count, parallel.Count);
        foreach (var (id, score) in single)
            Assert.True(Close(score, parallel[id]), $"row {id}: {score} vs {parallel[id]}");

        // One row at a time through a PredictionEngine.
        var inputs = Ml.Data.CreateEnumerable<InputRow>(data, reuseRowObject: false).ToList();
        using var engine = Ml.Model.CreatePredictionEngine<InputRow, OutputRow>(mc, new PredictionEngineOptions { OwnsTransformer = false });
        for (int i = 0; i < inputs.Count; i++)
            Assert.True(Close(reference[i], engine.Predict(inputs[i]).Score), $"row {i}");
    }

    [Fact]
    public void PredictionEngineMatchesTransformForTheDefaultScore()
    {
        var scored = Ml.Data.CreateEnumerable<OutputRow>(Detector.Transform(trained.Test), reuseRowObject: false).ToList();
        var inputs = Ml.Data.CreateEnumerable<InputRow>(trained.Test, reuseRowObject: false).ToList();
        using var engine = Ml.Model.CreatePredictionEngine<InputRow, OutputRow>(Detector, new PredictionEngineOptions { OwnsTransformer = false });
        for (int i = 0; i < inputs.Count; i++)
        {
            var single = engine.Predict(inputs[i]);
            Assert.True(Close(scored[i].Score, single.Score), $"row {i}");
            Assert.Equal(single.Score > Detector.Threshold, single.PredictedLabel);
        }
    }

    [Fact]
    public void NegativeElboIsTheReconstructionSumPlusBetaTimesKl()
    {
        // Without standardization the ELBO's squared error is in the original scale, so with the same seed (the same
        // per-row noise) it equals d times the Monte Carlo MSE, plus β·KL from the encoder's mu and logvar.
        var data = trained.Test;
        using var plain = Ml.AnomalyDetection.Trainers.VariationalAutoencoder(new VaeAnomalyOptions
        {
            HiddenDim = 32, LatentDim = 4, Epochs = 3, BatchSize = 64, NumberOfThreads = 1, Seed = 2, Standardize = false, Beta = 0.5,
            ScoreKind = VaeAnomalyScoreKind.NegativeElbo, MonteCarloSamples = 3,
        }).Fit(trained.Train);
        var elbo = TestData.ReadScalars(plain.Transform(data), "Score");
        var mc = TestData.ReadScalars(Rescored(plain, VaeAnomalyScoreKind.MonteCarloReconstructionError, 3, plain.ScoringSeed).Transform(data), "Score");
        var vae = plain.Vae.Transform(data);
        var mu = TestData.ReadVectors(vae, "Mu");
        var logVar = TestData.ReadVectors(vae, "LogVar");
        for (int i = 0; i < elbo.Length; i++)
        {
            double kl = -0.5 * mu[i].Zip(logVar[i], (m, l) => 1 + l - (double)m * m - Math.Exp(l)).Sum();
            double expected = 768 * (double)mc[i] + 0.5 * kl;
            Assert.True(Close(expected, elbo[i], 1e-4), $"row {i}: ELBO {elbo[i]}, expected {expected}");
        }
    }

    private VaeAnomalyTransformer WithScore(VaeAnomalyScoreKind kind, int seed) => Rescored(Detector, kind, 5, seed);

    /// <summary>The same trained VAE with another score (through the internal constructor: the public API fixes the score at Fit).</summary>
    private VaeAnomalyTransformer Rescored(VaeAnomalyTransformer detector, VaeAnomalyScoreKind kind, int samples, int seed)
    {
        var options = detector.Options;
        options.ScoreKind = kind;
        options.MonteCarloSamples = samples;
        return new VaeAnomalyTransformer(Ml, options, detector.Vae,
            new MLNetVae.AnomalyDetection.CalibrationScores(detector.TrainingScores.ToArray(), detector.CalibrationScores.ToArray()), seed,
            MLNetVae.AnomalyDetection.AnomalyThreshold.Explicit(detector.Threshold));
    }
}
