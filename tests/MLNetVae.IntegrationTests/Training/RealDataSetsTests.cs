using Microsoft.ML;
using MLNetVae.Tests.TestSupport;

namespace MLNetVae.Tests.Training;

/// <summary>
/// Default options on every real data set at hand: the sets shipped with the tests (always) and every CSV in
/// ../shared/data (when present). Training must end with finite weights, never NaN: the unguarded reference
/// diverges on Shuttle in its first epoch, and on MNIST's near-constant pixels without a variance floor.
/// The reference dies within its first epoch, so one epoch keeps the suite fast; full-length runs belong to the
/// evaluation command.
/// </summary>
public class RealDataSetsTests
{
    public static TheoryData<string> DataSets()
    {
        var sets = new TheoryData<string> { TestData.ShuttleCsv, TestData.NewsEmbeddingsCsv };
        if (TestData.SharedDataDirectory is { } shared)
        {
            foreach (var csv in Directory.EnumerateFiles(shared, "*.csv", SearchOption.AllDirectories).Order())
                if (!csv.EndsWith("shuttle.csv", StringComparison.Ordinal) && !csv.EndsWith("20news_3_bert768.csv", StringComparison.Ordinal))
                    sets.Add(csv);
        }
        return sets;
    }

    [Theory]
    [MemberData(nameof(DataSets))]
    public void DefaultOptionsTrainToFiniteWeights(string csv)
    {
        var ml = new MLContext(seed: 1);
        var options = new VaeOptions { Epochs = 1, NumberOfThreads = 1, Seed = 0 };
        using var model = ml.Transforms.VariationalAutoencoder(options).Fit(TestData.LoadLabelledCsv(ml, csv));
        Assert.True(model.Weights.AllFinite(), $"{Path.GetFileName(csv)}: non-finite weights");
        Assert.All(model.TrainingReport!.Epochs, e => Assert.True(double.IsFinite(e.TrainLoss) && double.IsFinite(e.ValidationLoss!.Value),
            $"{Path.GetFileName(csv)} epoch {e.Epoch}: loss {e.TrainLoss}, validation {e.ValidationLoss}"));
    }
}
