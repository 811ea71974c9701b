using Microsoft.ML;

namespace MLNetVae.Tests.Training;

public class OptionsValidationTests
{
    [Theory]
    [InlineData(nameof(VaeOptions.HiddenDim), 0)]
    [InlineData(nameof(VaeOptions.LatentDim), -3)]
    [InlineData(nameof(VaeOptions.Epochs), 0)]
    [InlineData(nameof(VaeOptions.BatchSize), -1)]
    [InlineData(nameof(VaeOptions.Beta), -0.5)]
    [InlineData(nameof(VaeOptions.Beta), double.NaN)]
    [InlineData(nameof(VaeOptions.LearningRate), 0.0)]
    [InlineData(nameof(VaeOptions.LearningRate), double.PositiveInfinity)]
    [InlineData(nameof(VaeOptions.ValidationFraction), 1.0)]
    [InlineData(nameof(VaeOptions.ValidationFraction), -0.1)]
    [InlineData(nameof(VaeOptions.EarlyStoppingPatience), -1)]
    [InlineData(nameof(VaeOptions.StandardizeScaleFloor), 2.0)]
    [InlineData(nameof(VaeOptions.LogVarianceLimit), 0.0)]
    [InlineData(nameof(VaeOptions.GradientClipNormPerRow), -1.0)]
    [InlineData(nameof(VaeOptions.NumberOfThreads), 0)]
    [InlineData(nameof(VaeOptions.TrimmedLossFraction), 0.5)]
    [InlineData(nameof(VaeOptions.TrimmedLossFraction), -0.1)]
    [InlineData(nameof(VaeOptions.TrimmedLossFraction), double.NaN)]
    public void OutOfRangeOptionsAreRejectedBeforeTrainingWithTheOptionNameAndValue(string option, object value)
    {
        var options = new VaeOptions();
        typeof(VaeOptions).GetProperty(option)!.SetValue(options, value);
        var ml = new MLContext(seed: 1);
        var ex = Assert.Throws<ArgumentOutOfRangeException>(() => ml.Transforms.VariationalAutoencoder(options));
        Assert.Equal(option, ex.ParamName);
        Assert.Contains($"VaeOptions.{option} is {Convert.ToString(value, System.Globalization.CultureInfo.CurrentCulture)}", ex.Message);
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
