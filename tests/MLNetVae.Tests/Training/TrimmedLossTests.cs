using Microsoft.ML;
using MLNetVae.Tests.TestSupport;
using MLNetVae.Training;
using static TorchSharp.torch;

namespace MLNetVae.Tests.Training;

/// <summary>The trimmed loss (<see cref="VaeTrainingOptions.TrimmedLossFraction"/>): what it leaves out, what it reports, what it buys.</summary>
public class TrimmedLossTests
{
    [Theory]
    [InlineData(64, 0.2, 51)]
    [InlineData(10, 0.2, 8)]
    [InlineData(10, 0.0, 10)]
    [InlineData(1, 0.4, 1)]   // a batch of one row always trains
    [InlineData(3, 0.2, 2)]
    public void KeptRowsRoundToTheNearestRowAndKeepAtLeastOne(int batchRows, double fraction, int kept) =>
        Assert.Equal(kept, VaeLoss.KeptRows(batchRows, fraction));

    [Fact]
    public void TheWorstRowsGetNoGradientAndTheLossIsThatOfTheKeptRows()
    {
        using var scope = NewDisposeScope();
        var random = new Random(3);
        float[] Values(int n, float scale) => Enumerable.Range(0, n).Select(_ => (float)(random.NextDouble() - 0.5) * scale).ToArray();
        var x = tensor(Values(40, 2f), new long[] { 10, 4 });
        var offsets = Values(40, 0.2f);
        for (int j = 0; j < 4; j++)
        {
            offsets[3 * 4 + j] = 10f;  // rows 3 and 7 reconstruct badly: the two a 20% trim leaves out
            offsets[7 * 4 + j] = -8f;
        }
        var reconstruction = x.add(tensor(offsets, new long[] { 10, 4 })).detach().requires_grad_();
        var mu = tensor(Values(20, 1f), new long[] { 10, 2 });
        var logVar = tensor(Values(20, 1f), new long[] { 10, 2 });
        using var scalars = new TrainingScalars(beta: 1.0, logVarLimit: 20);

        var (loss, rec, kl) = VaeLoss.ComputeTrimmed(reconstruction, x, mu, logVar, scalars, keptRows: 8);

        // Every term is that of the eight other rows, computed alone with the design's loss.
        var kept = tensor(Enumerable.Range(0, 10).Where(r => r is not (3 or 7)).Select(r => (long)r).ToArray());
        var (keptLoss, keptRec, keptKl) = VaeLoss.Compute(reconstruction.index_select(0, kept), x.index_select(0, kept),
            mu.index_select(0, kept), logVar.index_select(0, kept), scalars);
        Assert.Equal(keptLoss.item<float>(), loss.item<float>(), 1e-4f * keptLoss.item<float>());
        Assert.Equal(keptRec.item<float>(), rec.item<float>(), 1e-4f * keptRec.item<float>());
        Assert.Equal(keptKl.item<float>(), kl.item<float>(), 1e-4f * Math.Abs(keptKl.item<float>()));
        var (allLoss, _, _) = VaeLoss.Compute(reconstruction, x, mu, logVar, scalars);
        Assert.True(allLoss.item<float>() > 2 * loss.item<float>(), "the two rows left out hold most of the loss");

        loss.backward();
        var gradient = reconstruction.grad!.data<float>().ToArray();
        for (int row = 0; row < 10; row++)
        {
            double norm = Enumerable.Range(0, 4).Sum(j => Math.Abs(gradient[row * 4 + j]));
            if (row is 3 or 7)
                Assert.Equal(0.0, norm);
            else
                Assert.True(norm > 0, $"row {row} got no gradient");
        }
    }

    [Fact]
    public void TrimmingLeavesTheDesignsLossAloneWhenOffAndChangesTrainingWhenOn()
    {
        var ml = new MLContext(seed: 1);
        var data = TestData.LoadLabelledCsv(ml, TestData.NewsEmbeddingsCsv);
        VaeTrainingReport Train(double fraction)
        {
            using var model = ml.Transforms.VariationalAutoencoder(new VaeOptions
            {
                HiddenDim = 32, LatentDim = 4, Epochs = 3, BatchSize = 64, NumberOfThreads = 1, Seed = 7, TrimmedLossFraction = fraction,
            }).Fit(data);
            return model.TrainingReport!;
        }
        var off = Train(0);
        var offAgain = Train(0);
        var trimmed = Train(0.2);
        Assert.Equal(off.Epochs.Select(e => e.TrainLoss), offAgain.Epochs.Select(e => e.TrainLoss));
        Assert.NotEqual(off.Epochs[^1].TrainLoss, trimmed.Epochs[^1].TrainLoss);
        // The reported terms are those of the kept rows and still add up: reconstruction + β · KL.
        Assert.All(trimmed.Epochs, e => Assert.Equal(e.TrainReconstructionLoss + 0.01 * e.TrainKlDivergence, e.TrainLoss, 1e-3 * e.TrainLoss));
    }
}
