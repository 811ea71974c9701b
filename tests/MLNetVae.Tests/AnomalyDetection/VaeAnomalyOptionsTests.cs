using Microsoft.ML;
using Microsoft.ML.Data;
using MLNetVae.Tests.TestSupport;

namespace MLNetVae.Tests.AnomalyDetection;

/// <summary>Options validation, default sizes, the estimator's schema, explicit thresholds and what is not supported yet.</summary>
public class VaeAnomalyOptionsTests
{
    public static TheoryData<string, object, Action<VaeAnomalyOptions>> OutOfRange() => new()
    {
        { nameof(VaeAnomalyOptions.Contamination), 0.0, o => o.Contamination = 0 },
        { nameof(VaeAnomalyOptions.Contamination), -0.1, o => o.Contamination = -0.1 },
        { nameof(VaeAnomalyOptions.Contamination), 0.51, o => o.Contamination = 0.51 },
        { nameof(VaeAnomalyOptions.Contamination), double.NaN, o => o.Contamination = double.NaN },
        { nameof(VaeAnomalyOptions.MonteCarloSamples), 0, o => o.MonteCarloSamples = 0 },
        { nameof(VaeAnomalyOptions.MonteCarloSamples), 1001, o => o.MonteCarloSamples = 1001 },
        { nameof(VaeAnomalyOptions.HiddenDim), 0, o => o.HiddenDim = 0 },
        { nameof(VaeAnomalyOptions.LatentDim), -2, o => o.LatentDim = -2 },
        { nameof(VaeAnomalyOptions.Epochs), 0, o => o.Epochs = 0 },
        { nameof(VaeAnomalyOptions.BatchSize), 0, o => o.BatchSize = 0 },
        { nameof(VaeAnomalyOptions.LearningRate), 0.0, o => o.LearningRate = 0 },
        { nameof(VaeAnomalyOptions.Beta), -1.0, o => o.Beta = -1 },
        { nameof(VaeAnomalyOptions.KlWarmupEpochs), -1, o => o.KlWarmupEpochs = -1 },
        { nameof(VaeAnomalyOptions.ValidationFraction), 1.0, o => o.ValidationFraction = 1 },
        { nameof(VaeAnomalyOptions.EarlyStoppingPatience), -1, o => o.EarlyStoppingPatience = -1 },
        { nameof(VaeAnomalyOptions.NumberOfThreads), 0, o => o.NumberOfThreads = 0 },
        { nameof(VaeAnomalyOptions.Threshold), float.NaN, o => o.Threshold = float.NaN },
        { nameof(VaeAnomalyOptions.ScoreKind), (VaeAnomalyScoreKind)9, o => o.ScoreKind = (VaeAnomalyScoreKind)9 },
    };

    [Theory]
    [MemberData(nameof(OutOfRange))]
    public void AnOutOfRangeOptionIsRejectedBeforeTrainingNamingItAndItsValue(string option, object value, Action<VaeAnomalyOptions> set)
    {
        var options = new VaeAnomalyOptions();
        set(options);
        var error = Assert.Throws<ArgumentOutOfRangeException>(() => new MLContext().AnomalyDetection.Trainers.VariationalAutoencoder(options));
        Assert.Equal(option, error.ParamName);
        Assert.Contains(option, error.Message);
        Assert.Contains(Convert.ToString(value, System.Globalization.CultureInfo.CurrentCulture)!, error.Message);
    }

    [Fact]
    public void ColumnNamesMustBeNonEmptyAndDistinct()
    {
        Assert.Contains("FeatureColumnName",
            Assert.Throws<ArgumentException>(() => new VaeAnomalyOptions { FeatureColumnName = " " }.Validate()).Message);
        var duplicate = Assert.Throws<ArgumentException>(() => new VaeAnomalyOptions { PerFeatureErrorColumnName = "Score" }.Validate());
        Assert.Contains("ScoreColumnName and PerFeatureErrorColumnName", duplicate.Message);
        new VaeAnomalyOptions { PerFeatureErrorColumnName = "Errors", ScoreColumnName = "S", PredictedLabelColumnName = "P" }.Validate();
    }

    [Fact]
    public void TheTransformerValidatesContaminationAndExplicitThresholds()
    {
        using var detector = Tiny(new VaeAnomalyOptions());
        Assert.Equal("contamination", Assert.Throws<ArgumentOutOfRangeException>(() => detector.WithContamination(0.6)).ParamName);
        Assert.Equal("contamination", Assert.Throws<ArgumentOutOfRangeException>(() => detector.WithContamination(0)).ParamName);
        Assert.Equal("threshold", Assert.Throws<ArgumentOutOfRangeException>(() => detector.WithThreshold(float.PositiveInfinity)).ParamName);
    }

    [Theory]
    [InlineData(6, 32, 2)]
    [InlineData(9, 32, 3)]
    [InlineData(21, 42, 7)]
    [InlineData(100, 200, 34)]
    [InlineData(300, 512, 100)]
    [InlineData(768, 512, 256)]
    [InlineData(1000, 512, 256)]
    public void SizesAreChosenFromTheInputDimension(int inputDim, int hidden, int latent)
    {
        Assert.Equal(hidden, VaeAnomalyOptions.Defaults.HiddenDimFor(inputDim));
        Assert.Equal(latent, VaeAnomalyOptions.Defaults.LatentDimFor(inputDim));
    }

    [Theory]
    [InlineData(768, 10_000, 512, 256)]  // plenty of rows: the input's rule
    [InlineData(768, 369, 185, 92)]      // 20news' training rows: at most half a hidden unit per row
    [InlineData(1000, 175, 88, 44)]
    [InlineData(21, 60, 32, 7)]          // never below 32 hidden units; the latent rule of the input still applies
    [InlineData(100, 40, 32, 16)]        // latent at most half the hidden width
    public void SizesShrinkForFewTrainingRows(int inputDim, long rows, int hidden, int latent)
    {
        Assert.Equal(hidden, VaeAnomalyOptions.Defaults.HiddenDimFor(inputDim, rows));
        Assert.Equal(latent, VaeAnomalyOptions.Defaults.LatentDimFor(inputDim, rows));
    }

    [Fact]
    public void EpochsAreChosenFromTheRowCount()
    {
        // About 2,000 optimizer steps, between 20 and 300 epochs.
        Assert.Equal(300, VaeAnomalyOptions.Defaults.EpochsFor(100, 64));        // 2 steps per epoch
        Assert.Equal(125, VaeAnomalyOptions.Defaults.EpochsFor(1_000, 64));      // 16 steps per epoch
        Assert.Equal(20, VaeAnomalyOptions.Defaults.EpochsFor(1_000_000, 64));
    }

    [Fact]
    public void TheDetectorRunsItsWholeEpochBudgetAndKeepsTheBestValidationEpoch()
    {
        // No early stopping by default (docs/evaluation.md, T9'): on 150 rows the validation split has 15 rows, whose
        // noise used to stop training within 20 epochs of a lucky one. Every epoch now runs and the lowest one is kept.
        var ml = new MLContext(seed: 2);
        var data = ml.Data.TakeRows(TestData.LoadLabelledCsv(ml, TestData.ShuttleCsv), 150);
        using var detector = ml.AnomalyDetection.Trainers.VariationalAutoencoder(new VaeAnomalyOptions { NumberOfThreads = 1 }).Fit(data);
        var report = detector.Vae.TrainingReport!;

        Assert.Equal(0, VaeAnomalyOptions.Defaults.EarlyStoppingPatience);
        Assert.Equal(VaeAnomalyOptions.Defaults.EpochsFor(150, VaeAnomalyOptions.Defaults.BatchSize), detector.Options.Epochs);
        Assert.Equal(detector.Options.Epochs, report.Epochs.Count);
        Assert.DoesNotContain("early stopping", report.StopReason);
        double lowest = report.Epochs.Min(e => e.ValidationLoss!.Value);
        Assert.Equal(lowest, report.Epochs.Single(e => e.Epoch == report.BestEpoch).ValidationLoss);
        Assert.True(report.BestEpoch > 1, $"the kept epoch is {report.BestEpoch}");
    }

    [Fact]
    public void TheChosenSizesAreUsedAndReported()
    {
        var ml = new MLContext(seed: 3);
        var data = ml.Data.TakeRows(TestData.LoadLabelledCsv(ml, TestData.NewsEmbeddingsCsv), 100);
        using var detector = ml.AnomalyDetection.Trainers.VariationalAutoencoder(new VaeAnomalyOptions { Epochs = 1, NumberOfThreads = 1 }).Fit(data);
        // 768 features and 100 rows: half a hidden unit per row (50), latent half of that.
        Assert.Equal(50, detector.Vae.HiddenDim);
        Assert.Equal(25, detector.Vae.LatentDim);
        Assert.Equal(50, detector.Options.HiddenDim);
        Assert.Equal(25, detector.Options.LatentDim);
        Assert.Equal(1, detector.Options.Epochs);
        // The seed was drawn from the MLContext; Options reports the one used (also the sampling scores' seed).
        Assert.Equal(detector.Vae.TrainingReport!.Seed, detector.Options.Seed);
        Assert.Equal(detector.Vae.TrainingReport!.Seed, detector.ScoringSeed);
    }

    [Fact]
    public void AnExplicitThresholdOptionIsUsedAsIs()
    {
        using var detector = Tiny(new VaeAnomalyOptions { Threshold = 0.25f, Contamination = 0.3 });
        Assert.Equal(0.25f, detector.Threshold);
        Assert.Equal(VaeAnomalyThresholdSource.Explicit, detector.ThresholdSource);
        Assert.Null(detector.Contamination);
    }

    [Fact]
    public void TheEstimatorsOutputSchemaListsTheAddedColumns()
    {
        var ml = new MLContext();
        var shape = new VaeAnomalyEstimator(ml, new VaeAnomalyOptions { PerFeatureErrorColumnName = "Errors" }).GetOutputSchema(TestData.NewsShape());
        Assert.Equal(NumberDataViewType.Single, shape.Single(c => c.Name == "Score").ItemType);
        Assert.Equal(SchemaShape.Column.VectorKind.Scalar, shape.Single(c => c.Name == "Score").Kind);
        Assert.Equal(BooleanDataViewType.Instance, shape.Single(c => c.Name == "PredictedLabel").ItemType);
        Assert.Equal(SchemaShape.Column.VectorKind.Vector, shape.Single(c => c.Name == "Errors").Kind);
        Assert.Contains(shape, c => c.Name == "Label");

        var plain = new VaeAnomalyEstimator(ml, new VaeAnomalyOptions()).GetOutputSchema(TestData.NewsShape());
        Assert.DoesNotContain(plain, c => c.Name == "Errors");
        var missing = Assert.Throws<ArgumentOutOfRangeException>(() =>
            new VaeAnomalyEstimator(ml, new VaeAnomalyOptions { FeatureColumnName = "Embedding" }).GetOutputSchema(TestData.NewsShape()));
        Assert.Contains("'Embedding' was not found", missing.Message);
        Assert.Contains("Set VaeAnomalyOptions.FeatureColumnName", missing.Message); // the detector's option, not the featurizer's

        var fitMissing = Assert.Throws<ArgumentOutOfRangeException>(() =>
            new VaeAnomalyEstimator(ml, new VaeAnomalyOptions { FeatureColumnName = "Embedding" }).Fit(TestData.LoadLabelledCsv(ml, TestData.NewsEmbeddingsCsv)));
        Assert.Contains("Set VaeAnomalyOptions.FeatureColumnName", fitMissing.Message);
    }

    [Fact]
    public void EstimatorChainsFitAndTheOutputFeedsTheEvaluator()
    {
        var ml = new MLContext(seed: 3);
        var data = ml.Data.Cache(TestData.LoadLabelledCsv(ml, TestData.NewsEmbeddingsCsv));
        var pipeline = ml.Transforms.NormalizeMeanVariance("Features")
            .Append(ml.AnomalyDetection.Trainers.VariationalAutoencoder(new VaeAnomalyOptions { HiddenDim = 16, LatentDim = 4, Epochs = 2, NumberOfThreads = 1 }));
        var model = pipeline.Fit(data);
        var metrics = ml.AnomalyDetection.Evaluate(model.Transform(data));
        Assert.InRange(metrics.AreaUnderRocCurve, 0, 1);
    }

    [Theory]
    [InlineData("Mu")]
    [InlineData("ReconstructionError")]
    public void TheDetectorTakesAFeatureColumnNamedLikeAVaeOutput(string column)
    {
        // A featurizer's Mu column is a natural input to the detector; the inner VAE's outputs are not the detector's.
        var ml = new MLContext(seed: 3);
        var data = ml.Data.TakeRows(TestData.LoadLabelledCsv(ml, TestData.NewsEmbeddingsCsv), 100);
        var input = column == "Mu"
            ? ml.Transforms.VariationalAutoencoder(new VaeOptions { HiddenDim = 8, LatentDim = 4, Epochs = 2, NumberOfThreads = 1 }).Fit(data).Transform(data)
            : ml.Transforms.CopyColumns(column, "Features").Fit(data).Transform(data);
        using var detector = ml.AnomalyDetection.Trainers.VariationalAutoencoder(new VaeAnomalyOptions
        {
            FeatureColumnName = column, HiddenDim = 8, LatentDim = 2, Epochs = 2, NumberOfThreads = 1,
        }).Fit(input);

        var scores = TestData.ReadScalars(detector.Transform(input), "Score");
        Assert.Equal(100, scores.Length);
        Assert.All(scores, s => Assert.True(float.IsFinite(s)));
        Assert.Equal(column, detector.Vae.Options.InputColumnName);
        Assert.Equal("Vae" + column, column == "Mu" ? detector.Vae.Options.MuColumnName : detector.Vae.Options.ReconstructionErrorColumnName);
    }

    /// <summary>A detector trained in about a second on the first rows of the shipped embeddings.</summary>
    private static VaeAnomalyTransformer Tiny(VaeAnomalyOptions options)
    {
        var ml = new MLContext(seed: 3);
        var data = ml.Data.TakeRows(TestData.LoadLabelledCsv(ml, TestData.NewsEmbeddingsCsv), 100);
        options.HiddenDim ??= 8;
        options.LatentDim ??= 2;
        options.Epochs ??= 2;
        options.NumberOfThreads = 1;
        return ml.AnomalyDetection.Trainers.VariationalAutoencoder(options).Fit(data);
    }
}
