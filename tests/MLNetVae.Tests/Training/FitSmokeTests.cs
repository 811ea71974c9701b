using Microsoft.ML;
using MLNetVae.Tests.TestSupport;

namespace MLNetVae.Tests.Training;

public class FitSmokeTests
{
    [Fact]
    public void FitsOnNewsEmbeddingsAndScores()
    {
        var ml = new MLContext(seed: 1);
        var data = TestData.LoadLabelledCsv(ml, TestData.NewsEmbeddingsCsv);
        var estimator = ml.Transforms.VariationalAutoencoder(new VaeOptions { HiddenDim = 64, LatentDim = 8, Epochs = 5, NumberOfThreads = 2 });
        using var model = estimator.Fit(data);
        Assert.Equal(768, model.InputDim);
        Assert.Equal(5, model.TrainingReport!.Epochs.Count);
        var scored = model.Transform(data);
        var errors = TestData.ReadScalars(scored, "ReconstructionError");
        Assert.Equal(615, errors.Length);
        Assert.All(errors, e => Assert.True(float.IsFinite(e) && e > 0));
        var mu = TestData.ReadVectors(scored, "Mu");
        Assert.All(mu, m => Assert.Equal(8, m.Length));
    }
}
