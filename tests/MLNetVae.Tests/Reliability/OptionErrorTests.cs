using Microsoft.ML;
using Microsoft.ML.Data;

namespace MLNetVae.Tests.Reliability;

/// <summary>
/// Option errors that OptionsValidationTests does not cover: outputs named like the input, blank output names,
/// network sizes whose layers cannot exist. All of them are raised before any data is read or any tensor allocated.
/// </summary>
[Collection(ReliabilityCollection.Name)]
public class OptionErrorTests
{
    public static TheoryData<string> OutputOptions() => new()
    {
        nameof(VaeOptions.MuColumnName), nameof(VaeOptions.LogVarColumnName),
        nameof(VaeOptions.ReconstructionColumnName), nameof(VaeOptions.ReconstructionErrorColumnName),
    };

    private static VaeOptions With(string option, object? value)
    {
        var options = Reliable.Small();
        typeof(VaeOptions).GetProperty(option)!.SetValue(options, value);
        return options;
    }

    [Theory]
    [MemberData(nameof(OutputOptions))]
    public void AnOutputNamedLikeTheInputIsRefusedAtConstruction(string option)
    {
        var ex = Assert.Throws<ArgumentException>(() => new MLContext().Transforms.VariationalAutoencoder(With(option, "Features")));
        Assert.Contains($"VaeOptions.{option} is 'Features', the name of the input column", ex.Message);
        Assert.Contains("Give the output its own name", ex.Message);
    }

    [Theory]
    [InlineData(nameof(VaeOptions.MuColumnName), null)]
    [InlineData(nameof(VaeOptions.LogVarColumnName), "")]
    [InlineData(nameof(VaeOptions.ReconstructionColumnName), " \t")]
    [InlineData(nameof(VaeOptions.ReconstructionErrorColumnName), "\n")]
    [InlineData(nameof(VaeOptions.InputColumnName), null)]
    public void ABlankColumnNameIsRefusedAtConstruction(string option, string? name)
    {
        var ex = Assert.Throws<ArgumentException>(() => new MLContext().Transforms.VariationalAutoencoder(With(option, name)));
        Assert.Equal(option, ex.ParamName);
        Assert.Contains($"VaeOptions.{option} must name a column", ex.Message);
    }

    [Fact]
    public void ANetworkTooLargeForOneOnnxFileIsRefusedBeforeTraining()
    {
        // 768/20,000/256 has 846 million weights (3.4 GB): each layer fits an array, but the saved model's graph of the
        // encoder and decoder would pass protobuf's 2 GB limit, which failed only when the trained model was saved.
        var ml = new MLContext(seed: 1);
        var data = MLNetVae.Tests.TestSupport.TestData.LoadLabelledCsv(ml, MLNetVae.Tests.TestSupport.TestData.NewsEmbeddingsCsv);
        var options = new VaeOptions { HiddenDim = 20_000, LatentDim = 256, Epochs = 1, NumberOfThreads = 1 };
        var ex = Assert.Throws<ArgumentOutOfRangeException>(() => ml.Transforms.VariationalAutoencoder(options).Fit(data));
        Assert.Equal(nameof(VaeOptions.HiddenDim), ex.ParamName);
        Assert.Contains("protobuf's 2 GB limit: 768/20000/256", ex.Message);
        Assert.Contains("Lower HiddenDim", ex.Message);
        // 2·768·20,000 + 2·20,000² weights, 3·20,000·256 in the latent layers, 4·20,000 + 2·256 + 768 biases.
        Assert.Contains("846,161,280 weights".Replace(",", System.Globalization.CultureInfo.CurrentCulture.NumberFormat.NumberGroupSeparator), ex.Message);
    }

    [Theory]
    [InlineData(nameof(VaeOptions.HiddenDim), 100_000, "HiddenDim x HiddenDim is 10,000,000,000")]
    [InlineData(nameof(VaeOptions.LatentDim), 1_500_000_000, "HiddenDim x 2·LatentDim is 48,000,000,000")]
    public void ALayerTooLargeToExistIsRefusedAtConstruction(string option, int value, string detail)
    {
        // Before: HiddenDim 100,000 failed inside libtorch ("can't allocate 40000000000 bytes" + a native stack trace),
        // LatentDim 1.5e9 overflowed 2·LatentDim into a negative tensor dimension.
        var ex = Assert.Throws<ArgumentOutOfRangeException>(() => new MLContext().Transforms.VariationalAutoencoder(With(option, value)));
        Assert.Equal(option, ex.ParamName);
        Assert.Contains($"VaeOptions.{option} is {value}", ex.Message);
        Assert.Contains(detail.Replace(",", System.Globalization.CultureInfo.CurrentCulture.NumberFormat.NumberGroupSeparator), ex.Message);
        Assert.Contains("fit in one array", ex.Message);
    }

    [Fact]
    public void AnInputLayerTooLargeToExistIsRefusedBeforeAnyRowIsRead()
    {
        // HiddenDim 40,000 is possible on its own; with 60,000 input features the first layer is not.
        var ml = new MLContext();
        var data = OneRowOf(ml, 60_000);
        var options = Reliable.Small();
        options.HiddenDim = 40_000;
        var estimator = ml.Transforms.VariationalAutoencoder(options);
        var ex = Assert.Throws<ArgumentOutOfRangeException>(() => estimator.Fit(data));
        Assert.Equal(nameof(VaeOptions.HiddenDim), ex.ParamName);
        Assert.Contains("input size (60000) x HiddenDim", ex.Message);
        Assert.Equal(0, data.CursorsOpened);
    }

    [Fact]
    public void AnInputWiderThanABlockOfRowsCanHoldIsRefusedBeforeAnyRowIsRead()
    {
        // 2,097,152 features with the smallest network (8 million weights) would train, then overflow the 1,024-row
        // scoring block (an OverflowException from new float[1024 · 2,097,152]). Refused by the column, up front.
        var ml = new MLContext();
        var data = OneRowOf(ml, 2_097_152);
        var options = Reliable.Small();
        options.HiddenDim = 2;
        options.LatentDim = 1;
        var ex = Assert.Throws<ArgumentOutOfRangeException>(() => ml.Transforms.VariationalAutoencoder(options).Fit(data));
        Assert.Contains("Input column 'Features' has 2", ex.Message);
        Assert.Contains("ProjectToPrincipalComponents", ex.Message);
        Assert.Equal(0, data.CursorsOpened);

        options.HiddenDim = 8;
        options.BatchSize = 4_000_000;
        var batch = Assert.Throws<ArgumentOutOfRangeException>(() => ml.Transforms.VariationalAutoencoder(options).Fit(OneRowOf(ml, 768)));
        Assert.Equal(nameof(VaeOptions.BatchSize), batch.ParamName);
        Assert.Contains("one batch of rows to fit in one array", batch.Message);

        var detector = Assert.Throws<ArgumentOutOfRangeException>(() =>
            ml.AnomalyDetection.Trainers.VariationalAutoencoder(new VaeAnomalyOptions { HiddenDim = 2, LatentDim = 1 }).Fit(data));
        Assert.Contains("Input column 'Features' has 2", detector.Message);
    }

    /// <summary>One all-zero row of <paramref name="width"/> features, counting the cursors opened on it.</summary>
    private static CountingDataView OneRowOf(MLContext ml, int width)
    {
        var definition = SchemaDefinition.Create(typeof(Row));
        definition[nameof(Row.Features)].ColumnType = new VectorDataViewType(NumberDataViewType.Single, width);
        return new CountingDataView(ml.Data.LoadFromEnumerable(new[] { new Row { Features = new float[width] } }, definition));
    }

    public sealed class Row
    {
        public float[] Features { get; set; } = Array.Empty<float>();
    }

    [Fact]
    public void EveryInvalidOptionIsRaisedBeforeAnyRowIsRead()
    {
        // Options are validated when the estimator is created and copied, so no Fit (and no data access) can follow;
        // changing the caller's instance afterwards cannot slip an invalid value into training.
        var invalid = new Action<VaeOptions>[]
        {
            o => o.HiddenDim = 0, o => o.LatentDim = -1, o => o.Epochs = 0, o => o.BatchSize = -5,
            o => o.ValidationFraction = 1, o => o.ValidationFraction = -0.01, o => o.ValidationFraction = double.NaN,
            o => o.LearningRate = double.NaN, o => o.Beta = double.PositiveInfinity, o => o.EarlyStoppingPatience = -1,
            o => o.StandardizeScaleFloor = -1, o => o.LogVarianceLimit = double.NaN, o => o.GradientClipNormPerRow = double.NaN,
            o => o.NumberOfThreads = -2, o => o.MuColumnName = "LogVar", o => o.InputColumnName = "",
        };
        var ml = new MLContext();
        foreach (var (change, index) in invalid.Select((c, i) => (c, i)))
        {
            var options = Reliable.Small();
            change(options);
            var ex = Assert.ThrowsAny<ArgumentException>(() => ml.Transforms.VariationalAutoencoder(options));
            Assert.True(ex.Message.Contains("VaeOptions.") || ex.Message.Contains("Give each output column"), $"case {index}: {ex.Message}");
        }

        var valid = Reliable.Small();
        var estimator = ml.Transforms.VariationalAutoencoder(valid);
        valid.Epochs = 0;
        Assert.Equal(1, estimator.Options.Epochs);
    }

    [Theory]
    [InlineData(nameof(VaeTrainingOptions.LearningRate))]
    [InlineData(nameof(VaeTrainingOptions.LogVarianceLimit))]
    [InlineData(nameof(VaeTrainingOptions.GradientClipNormPerRow))]
    [InlineData(nameof(VaeTrainingOptions.Beta))]
    public void ASettingThatDoesNotFitAFloatIsRefusedByBothEstimators(string option)
    {
        // Training computes in float32, where 1e39 would silently become ∞.
        var vae = Reliable.Small();
        typeof(VaeTrainingOptions).GetProperty(option)!.SetValue(vae, 1e39);
        var ex = Assert.Throws<ArgumentOutOfRangeException>(() => new MLContext().Transforms.VariationalAutoencoder(vae));
        Assert.Equal(option, ex.ParamName);
        Assert.Contains($"VaeOptions.{option} is 1E+39", ex.Message);
        Assert.Contains("fits a float", ex.Message);

        var detector = new VaeAnomalyOptions();
        typeof(VaeTrainingOptions).GetProperty(option)!.SetValue(detector, 1e39);
        ex = Assert.Throws<ArgumentOutOfRangeException>(() => new MLContext().AnomalyDetection.Trainers.VariationalAutoencoder(detector));
        Assert.Contains($"VaeAnomalyOptions.{option} is 1E+39", ex.Message);
    }

    [Theory]
    [InlineData(nameof(VaeAnomalyOptions.ScoreColumnName))]
    [InlineData(nameof(VaeAnomalyOptions.PredictedLabelColumnName))]
    [InlineData(nameof(VaeAnomalyOptions.PerFeatureErrorColumnName))]
    public void ADetectorOutputNamedLikeTheFeatureColumnIsRefusedAtConstruction(string option)
    {
        var options = new VaeAnomalyOptions();
        typeof(VaeAnomalyOptions).GetProperty(option)!.SetValue(options, "Features");
        var ex = Assert.Throws<ArgumentException>(() => new MLContext().AnomalyDetection.Trainers.VariationalAutoencoder(options));
        Assert.Contains($"VaeAnomalyOptions.{option} is 'Features', the name of the feature column", ex.Message);
    }

    [Fact]
    public void EveryTrainingSettingOfTheDetectorReachesItsVae()
    {
        // One definition of the training settings: the detector passes all of them, including the four it could not
        // set before (StandardizeScaleFloor, LogVarianceLimit, GradientClipNormPerRow, SkipNonFiniteRows).
        var options = new VaeAnomalyOptions
        {
            HiddenDim = 8, LatentDim = 2, Epochs = 1, NumberOfThreads = 1, Seed = 4, BatchSize = 32, LearningRate = 0.002,
            Beta = 0.5, KlWarmupEpochs = 1, StandardizeScaleFloor = 0.2, ValidationFraction = 0.2, EarlyStoppingPatience = 3,
            LogVarianceLimit = 15, GradientClipNormPerRow = 100, SkipNonFiniteRows = true,
        };
        using var detector = new MLContext().AnomalyDetection.Trainers.VariationalAutoencoder(options)
            .Fit(MLNetVae.Tests.TestSupport.TestData.Random(new MLContext(), rows: 100, width: 4, seed: 1));
        var vae = detector.Vae.Options;
        foreach (var property in typeof(VaeTrainingOptions).GetProperties().Where(p => p.Name is not (nameof(VaeTrainingOptions.Progress) or nameof(VaeTrainingOptions.CancellationToken))))
            Assert.Equal(property.GetValue(options), property.GetValue(vae));
    }
}
