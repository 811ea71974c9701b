using Microsoft.ML;

namespace MLNetVae.Tests.Training;

public class OptionsValidationTests
{
    public static TheoryData<Action<VaeOptions>, string> InvalidOptions => new()
    {
        { o => o.HiddenDim = 0, nameof(VaeOptions.HiddenDim) },
        { o => o.LatentDim = -3, nameof(VaeOptions.LatentDim) },
        { o => o.Epochs = 0, nameof(VaeOptions.Epochs) },
        { o => o.BatchSize = -1, nameof(VaeOptions.BatchSize) },
        { o => o.Beta = -0.5, nameof(VaeOptions.Beta) },
        { o => o.Beta = double.NaN, nameof(VaeOptions.Beta) },
        { o => o.LearningRate = 0, nameof(VaeOptions.LearningRate) },
        { o => o.LearningRate = double.PositiveInfinity, nameof(VaeOptions.LearningRate) },
        { o => o.ValidationFraction = 1, nameof(VaeOptions.ValidationFraction) },
        { o => o.ValidationFraction = -0.1, nameof(VaeOptions.ValidationFraction) },
        { o => o.EarlyStoppingPatience = -1, nameof(VaeOptions.EarlyStoppingPatience) },
        { o => o.StandardizeScaleFloor = 2, nameof(VaeOptions.StandardizeScaleFloor) },
        { o => o.LogVarianceLimit = 0, nameof(VaeOptions.LogVarianceLimit) },
        { o => o.GradientClipNormPerRow = -1, nameof(VaeOptions.GradientClipNormPerRow) },
        { o => o.NumberOfThreads = 0, nameof(VaeOptions.NumberOfThreads) },
    };

    [Theory]
    [MemberData(nameof(InvalidOptions))]
    public void OutOfRangeOptionsAreRejectedBeforeTrainingWithTheOptionNameAndValue(Action<VaeOptions> breakIt, string option)
    {
        var options = new VaeOptions();
        breakIt(options);
        var ml = new MLContext(seed: 1);
        var ex = Assert.Throws<ArgumentOutOfRangeException>(() => ml.Transforms.VariationalAutoencoder(options));
        Assert.Equal(option, ex.ParamName);
        Assert.Contains($"VaeOptions.{option} is", ex.Message);
        Assert.Contains("must be", ex.Message);
    }

    [Theory]
    [InlineData("")]
    [InlineData("  ")]
    public void EmptyColumnNamesAreRejected(string name)
    {
        var ex = Assert.Throws<ArgumentException>(() => new VaeOptions { InputColumnName = name }.Validate());
        Assert.Contains(nameof(VaeOptions.InputColumnName), ex.Message);
    }

    [Fact]
    public void TwoOutputsWithOneNameAreRejected()
    {
        var ex = Assert.Throws<ArgumentException>(() => new VaeOptions { LogVarColumnName = "Mu" }.Validate());
        Assert.Contains("MuColumnName and LogVarColumnName", ex.Message);
    }

    [Fact]
    public void DefaultsAreTheDesignsAndValid()
    {
        var options = new VaeOptions();
        options.Validate();
        Assert.Equal(("Features", 512, 256, 0.01, 1e-3), (options.InputColumnName, options.HiddenDim, options.LatentDim, options.Beta, options.LearningRate));
    }

    [Fact]
    public void EstimatorKeepsItsOwnCopyOfTheOptions()
    {
        var options = new VaeOptions { LatentDim = 4 };
        var estimator = new MLContext().Transforms.VariationalAutoencoder(options);
        options.LatentDim = -1;
        Assert.Equal(4, estimator.Options.LatentDim);
    }

    [Fact]
    public void SimpleOverloadSetsTheGivenOptions()
    {
        var estimator = new MLContext().Transforms.VariationalAutoencoder("Pixels", latentDim: 8, hiddenDim: 64, epochs: 50);
        Assert.Equal(("Pixels", 8, 64, 50), (estimator.Options.InputColumnName, estimator.Options.LatentDim, estimator.Options.HiddenDim, estimator.Options.Epochs));
    }
}
