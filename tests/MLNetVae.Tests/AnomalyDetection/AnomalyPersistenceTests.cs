using Microsoft.ML;
using Microsoft.ML.Data;
using MLNetVae.Tests.TestSupport;
using static MLNetVae.Tests.AnomalyDetection.AnomalyTestData;

namespace MLNetVae.Tests.AnomalyDetection;

/// <summary>
/// <c>mlContext.Model.Save</c> of the anomaly detector (alone or in a pipeline) and <c>mlContext.Model.Load</c> in a
/// fresh context: the loaded chain (ML.NET's own transformers around one ONNX graph) scores like the detector.
/// </summary>
public sealed class AnomalyPersistenceTests : IDisposable
{
    private readonly string folder = Directory.CreateTempSubdirectory("mlnetvae-anomaly-save-").FullName;

    public void Dispose() => Directory.Delete(folder, recursive: true);

    private static VaeAnomalyOptions Small(VaeAnomalyScoreKind kind, string? perFeature) => new()
    {
        HiddenDim = 32, LatentDim = 4, Epochs = 3, BatchSize = 64, NumberOfThreads = 1, Seed = 2,
        ScoreKind = kind, MonteCarloSamples = 5, PerFeatureErrorColumnName = perFeature,
    };

    /// <summary>Scores equal within float32 rounding; labels equal wherever the score is not within that rounding of the threshold.</summary>
    private static void AssertSameDecisions(IDataView expected, IDataView actual, float threshold, string? perFeature)
    {
        var expectedScores = TestData.ReadScalars(expected, "Score");
        var actualScores = TestData.ReadScalars(actual, "Score");
        Assert.Equal(expectedScores.Length, actualScores.Length);
        for (int i = 0; i < expectedScores.Length; i++)
            Assert.True(Math.Abs(expectedScores[i] - actualScores[i]) <= 1e-4 * Math.Max(1, Math.Abs(expectedScores[i])),
                $"row {i}: score {actualScores[i]} after loading, {expectedScores[i]} before");

        var expectedLabels = ReadBooleans(expected, "PredictedLabel");
        var actualLabels = ReadBooleans(actual, "PredictedLabel");
        Assert.Contains(true, expectedLabels); // the comparison below means something
        for (int i = 0; i < expectedLabels.Length; i++)
            if (Math.Abs(expectedScores[i] - threshold) > 1e-4 * Math.Max(1, Math.Abs(threshold)))
                Assert.Equal(expectedLabels[i], actualLabels[i]);

        if (perFeature is not null)
        {
            var e = TestData.ReadVectors(expected, perFeature);
            var a = TestData.ReadVectors(actual, perFeature);
            for (int i = 0; i < e.Length; i++)
                for (int j = 0; j < e[i].Length; j++)
                    Assert.True(Math.Abs(e[i][j] - a[i][j]) <= 1e-4 * Math.Max(1, Math.Abs(e[i][j])), $"row {i} feature {j}: {a[i][j]} vs {e[i][j]}");
        }
    }

    [Theory]
    [InlineData(VaeAnomalyScoreKind.NegativeElbo, "FeatureErrors", true)]
    [InlineData(VaeAnomalyScoreKind.NegativeElbo, null, false)] // no standardization: the ELBO's error is in the input's scale
    [InlineData(VaeAnomalyScoreKind.MonteCarloReconstructionError, "FeatureErrors", true)]
    [InlineData(VaeAnomalyScoreKind.MonteCarloReconstructionError, null, true)]
    [InlineData(VaeAnomalyScoreKind.ReconstructionError, "FeatureErrors", true)]
    [InlineData(VaeAnomalyScoreKind.NegativeElbo, "FeatureErrors", true, VaeAnomalyLikelihood.StudentT)]
    public void ASavedDetectorLoadsInAFreshContextAndScoresTheSame(VaeAnomalyScoreKind kind, string? perFeature, bool standardize,
        VaeAnomalyLikelihood likelihood = VaeAnomalyLikelihood.Gaussian)
    {
        var ml = new MLContext(seed: 1);
        var data = ml.Data.Cache(TestData.LoadLabelledCsv(ml, TestData.NewsEmbeddingsCsv));
        var options = Small(kind, perFeature);
        options.Standardize = standardize;
        options.Likelihood = likelihood;
        using var detector = ml.AnomalyDetection.Trainers.VariationalAutoencoder(options).Fit(data);
        string path = Path.Combine(folder, $"{kind}-{perFeature}-{standardize}-{likelihood}.zip");
        ml.Model.Save(detector, data.Schema, path);

        var fresh = new MLContext(seed: 9);
        fresh.RegisterVaeComponents();
        var loaded = fresh.Model.Load(path, out var inputSchema);
        var scored = loaded.Transform(data);

        Assert.Equal(data.Schema.Count, inputSchema.Count);
        Assert.Equal(NumberDataViewType.Single, scored.Schema["Score"].Type);
        Assert.Equal(BooleanDataViewType.Instance, scored.Schema["PredictedLabel"].Type);
        Assert.DoesNotContain(scored.Schema, c => !c.IsHidden && c.Name.StartsWith("MLNetVae.", StringComparison.Ordinal));
        Assert.Equal(perFeature is not null, scored.Schema.GetColumnOrNull("FeatureErrors") is { IsHidden: false });
        AssertSameDecisions(detector.Transform(data), scored, detector.Threshold, perFeature);
    }

    [Fact]
    public void APipelineWithTheDetectorSavesAndLoads()
    {
        var ml = new MLContext(seed: 1);
        var data = ml.Data.Cache(TestData.LoadLabelledCsv(ml, TestData.NewsEmbeddingsCsv));
        var pipeline = ml.Transforms.NormalizeMeanVariance("Features")
            .Append(ml.AnomalyDetection.Trainers.VariationalAutoencoder(Small(VaeAnomalyScoreKind.NegativeElbo, null)));
        var model = pipeline.Fit(data);
        string path = Path.Combine(folder, "pipeline.zip");
        ml.Model.SaveSafely(model, data.Schema, path);

        var fresh = new MLContext(seed: 9);
        fresh.RegisterVaeComponents();
        var loaded = fresh.Model.Load(path, out _);
        AssertSameDecisions(model.Transform(data), loaded.Transform(data), model.LastTransformer.Threshold, null);
        // The evaluator reads the loaded model's output as it reads the detector's.
        var metrics = fresh.AnomalyDetection.Evaluate(loaded.Transform(data));
        Assert.InRange(metrics.AreaUnderRocCurve, 0.5, 1.0);
        model.LastTransformer.Dispose();
    }

    [Fact]
    public void LoadWithFastVaeReturnsTheDetectorThatWasSaved_BitForBit()
    {
        var ml = new MLContext(seed: 1);
        var data = ml.Data.Cache(TestData.LoadLabelledCsv(ml, TestData.NewsEmbeddingsCsv));
        var options = Small(VaeAnomalyScoreKind.NegativeElbo, "FeatureErrors");
        options.CalibrationFraction = 0.2;
        using var detector = ml.AnomalyDetection.Trainers.VariationalAutoencoder(options).Fit(data);
        var tuned = detector.WithContamination(0.1);
        string path = Path.Combine(folder, "fast.zip");
        ml.Model.Save(tuned, data.Schema, path);

        var fresh = new MLContext(seed: 9);
        using var loaded = Assert.IsType<VaeAnomalyTransformer>(fresh.Model.LoadWithFastVae(path, out _));

        Assert.Equal(tuned.Threshold, loaded.Threshold);
        Assert.Equal(VaeAnomalyThresholdSource.Contamination, loaded.ThresholdSource);
        Assert.Equal(0.1, loaded.Contamination);
        Assert.Equal(tuned.ScoringSeed, loaded.ScoringSeed);
        Assert.Equal(tuned.TrainingScores, loaded.TrainingScores);
        Assert.Equal(tuned.CalibrationScores, loaded.CalibrationScores);
        Assert.Equal(VaeAnomalyScoreKind.NegativeElbo, loaded.Options.ScoreKind);
        Assert.Equal(0.2, loaded.Options.CalibrationFraction);
        Assert.Equal("FeatureErrors", loaded.Options.PerFeatureErrorColumnName);
        Assert.Equal(tuned.Vae.TrainingReport!.Epochs.Count, loaded.Vae.TrainingReport!.Epochs.Count);

        // The same computation on the same weights and noise table: identical scores, labels and per-feature errors.
        var before = tuned.Transform(data);
        var after = loaded.Transform(data);
        Assert.Equal(TestData.ReadScalars(before, "Score"), TestData.ReadScalars(after, "Score"));
        Assert.Equal(ReadBooleans(before, "PredictedLabel"), ReadBooleans(after, "PredictedLabel"));
        Assert.Equal(TestData.ReadVectors(before, "FeatureErrors"), TestData.ReadVectors(after, "FeatureErrors"));
        // And the threshold can still be moved from the restored calibration scores.
        Assert.Equal(detector.Threshold, loaded.WithContamination(0.05).Threshold);
        // The VAE-only loader says where the detector's VAE is instead of "no MLNetVae graph".
        var error = Assert.Throws<VaeModelFileException>(() => fresh.Model.LoadVaeTransformer(path));
        Assert.Contains("anomaly detector", error.Message);
        Assert.Contains("LoadWithFastVae", error.Message);
    }

    [Fact]
    public void LoadWithFastVaeReplacesTheDetectorInsideAPipeline()
    {
        var ml = new MLContext(seed: 1);
        var data = ml.Data.Cache(TestData.LoadLabelledCsv(ml, TestData.NewsEmbeddingsCsv));
        var model = ml.Transforms.NormalizeMeanVariance("Features")
            .Append(ml.AnomalyDetection.Trainers.VariationalAutoencoder(Small(VaeAnomalyScoreKind.MonteCarloReconstructionError, null)))
            .Fit(data);
        string path = Path.Combine(folder, "fast-pipeline.zip");
        ml.Model.SaveSafely(model, data.Schema, path);

        var loaded = Assert.IsType<TransformerChain<ITransformer>>(new MLContext(seed: 9).Model.LoadWithFastVae(path, out _));
        Assert.IsType<VaeAnomalyTransformer>(loaded.Last());
        Assert.Equal(TestData.ReadScalars(model.Transform(data), "Score"), TestData.ReadScalars(loaded.Transform(data), "Score"));
        model.LastTransformer.Dispose();
        ((IDisposable)loaded.Last()).Dispose();
    }
}
