using Microsoft.ML;
using Microsoft.ML.Runtime;
using MLNetVae.Tests.TestSupport;
using MLNetVae.Training;

namespace MLNetVae.Tests.Training;

/// <summary>Posterior-collapse diagnostics in the training report, the collapse warning, and KL warm-up.</summary>
public class LatentDiagnosticsTests
{
    [Fact]
    public void ActiveDimensionsAndKlPerDimensionMatchTheMuAndLogVarColumns()
    {
        var ml = new MLContext(seed: 1);
        var data = ml.Data.Cache(TestData.LoadLabelledCsv(ml, TestData.NewsEmbeddingsCsv));
        // No validation split: every row is a training row, so the report's statistics are over the same rows.
        using var model = ml.Transforms.VariationalAutoencoder(new VaeOptions
        {
            HiddenDim = 48, LatentDim = 6, Epochs = 5, BatchSize = 64, NumberOfThreads = 1, Seed = 4, ValidationFraction = 0,
        }).Fit(data);
        var report = model.TrainingReport!;
        var scored = model.Transform(data);
        var mu = TestData.ReadVectors(scored, "Mu");
        var logVar = TestData.ReadVectors(scored, "LogVar");

        Assert.Equal(6, report.KlPerDimension.Count);
        Assert.Equal(6, report.LatentMeanVariance.Count);
        for (int k = 0; k < 6; k++)
        {
            double mean = mu.Average(r => (double)r[k]);
            double variance = mu.Average(r => (r[k] - mean) * (r[k] - mean));
            double kl = mu.Zip(logVar, (m, l) => -0.5 * (1 + l[k] - (double)m[k] * m[k] - Math.Exp(l[k]))).Average();
            Assert.True(Math.Abs(variance - report.LatentMeanVariance[k]) <= 1e-4 * Math.Max(1, variance), $"dim {k}: variance {variance} vs {report.LatentMeanVariance[k]}");
            Assert.True(Math.Abs(kl - report.KlPerDimension[k]) <= 1e-4 * Math.Max(1, kl), $"dim {k}: KL {kl} vs {report.KlPerDimension[k]}");
        }
        Assert.Equal(report.LatentMeanVariance.Count(v => v > 0.01), report.ActiveLatentDimensions);
    }

    [Fact]
    public void OnMoreRowsThanTheCapTheDiagnosticsUseEvenlySpacedTrainingRows()
    {
        var ml = new MLContext(seed: 1);
        int rows = VaeTrainer.LatentStatisticsMaxRows + 3_001;
        var data = ml.Data.Cache(TestData.Random(ml, rows, width: 8, seed: 2));
        using var model = ml.Transforms.VariationalAutoencoder(new VaeOptions
        {
            HiddenDim = 8, LatentDim = 3, Epochs = 1, BatchSize = 512, NumberOfThreads = 1, Seed = 4, ValidationFraction = 0,
        }).Fit(data);
        var report = model.TrainingReport!;
        var scored = model.Transform(data);
        var mu = TestData.ReadVectors(scored, "Mu");
        var logVar = TestData.ReadVectors(scored, "LogVar");

        var sample = VaeTrainer.EvenlySpaced(Enumerable.Range(0, rows).ToArray(), VaeTrainer.LatentStatisticsMaxRows);
        Assert.Equal(VaeTrainer.LatentStatisticsMaxRows, sample.Length);
        Assert.Equal(0, sample[0]);
        Assert.True(sample.Zip(sample.Skip(1), (a, b) => b > a).All(x => x), "rows are in order, each once");
        Assert.True(sample[^1] >= rows - 2, "the sample reaches the end of the data");
        for (int k = 0; k < 3; k++)
        {
            double mean = sample.Average(r => (double)mu[r][k]);
            double variance = sample.Average(r => (mu[r][k] - mean) * (mu[r][k] - mean));
            double kl = sample.Average(r => -0.5 * (1 + logVar[r][k] - (double)mu[r][k] * mu[r][k] - Math.Exp(logVar[r][k])));
            Assert.True(Math.Abs(variance - report.LatentMeanVariance[k]) <= 1e-4 * Math.Max(1, variance), $"dim {k}: variance {variance} vs {report.LatentMeanVariance[k]}");
            Assert.True(Math.Abs(kl - report.KlPerDimension[k]) <= 1e-4 * Math.Max(1, kl), $"dim {k}: KL {kl} vs {report.KlPerDimension[k]}");
        }
        Assert.Same(sample, VaeTrainer.EvenlySpaced(sample, sample.Length)); // fewer rows than the cap: all of them, as they are
    }

    [Fact]
    public void WideInputsAreEvaluatedInSmallerBlocksOverEveryRow()
    {
        // 20,000 features: evaluation blocks of 209 rows (near 16 MB), so the 450 rows' diagnostics come from three blocks.
        var ml = new MLContext(seed: 1);
        var data = ml.Data.Cache(TestData.Random(ml, 450, width: 20_000, seed: 8));
        using var model = ml.Transforms.VariationalAutoencoder(new VaeOptions
        {
            HiddenDim = 4, LatentDim = 2, Epochs = 1, NumberOfThreads = 1, Seed = 3, ValidationFraction = 0,
        }).Fit(data);
        var mu = TestData.ReadVectors(model.Transform(data), "Mu");
        for (int k = 0; k < 2; k++)
        {
            double mean = mu.Average(r => (double)r[k]);
            double variance = mu.Average(r => (r[k] - mean) * (r[k] - mean));
            Assert.True(Math.Abs(variance - model.TrainingReport!.LatentMeanVariance[k]) <= 1e-4 * Math.Max(1, variance),
                $"dim {k}: variance {variance} vs {model.TrainingReport.LatentMeanVariance[k]}");
        }
    }

    [Fact]
    public void ALogVarianceBeyondFloatRangeKeepsTheKlDiagnosticsFinite()
    {
        var ml = new MLContext(seed: 1);
        // Unstandardized values of ~1e4 and a learning rate that leaves the initial weights as they are: the encoder's
        // logvar outputs reach thousands, where exp(logvar) overflows float32. The diagnostics use the loss's guarded KL,
        // so the report holds finite numbers (an unguarded exp gave +∞, which the saved report's JSON cannot hold).
        var data = ml.Data.Cache(TestData.Random(ml, 64, width: 8, seed: 5, scale: 1e4f));
        using var model = ml.Transforms.VariationalAutoencoder(new VaeOptions
        {
            HiddenDim = 16, LatentDim = 4, Epochs = 1, BatchSize = 64, NumberOfThreads = 1, Seed = 2, ValidationFraction = 0,
            Standardize = false, LearningRate = 1e-12,
        }).Fit(data);
        var logVar = TestData.ReadVectors(model.Transform(data), "LogVar");
        Assert.True(logVar.Max(r => r.Max()) > 88.8f, $"the case needs a logvar whose exp overflows float32; largest {logVar.Max(r => r.Max())}");
        var report = model.TrainingReport!;
        Assert.All(report.KlPerDimension, kl => Assert.True(double.IsFinite(kl), $"KL per dimension {kl}"));
        Assert.All(report.LatentMeanVariance, v => Assert.True(double.IsFinite(v), $"latent mean variance {v}"));
    }

    [Fact]
    public void ACollapsedLatentSpaceIsReportedAndLoggedAsAWarning()
    {
        var ml = new MLContext(seed: 1);
        var warnings = new List<string>();
        ml.Log += (_, e) =>
        {
            if (e.Kind == ChannelMessageKind.Warning)
                lock (warnings) warnings.Add(e.Message);
        };
        var data = ml.Data.Cache(TestData.LoadLabelledCsv(ml, TestData.NewsEmbeddingsCsv));
        // A huge KL weight drives q(z|x) onto the prior: the latent means stop depending on the row.
        using var model = ml.Transforms.VariationalAutoencoder(new VaeOptions
        {
            HiddenDim = 32, LatentDim = 20, Epochs = 4, BatchSize = 64, NumberOfThreads = 1, Seed = 1, Beta = 500,
        }).Fit(data);
        var report = model.TrainingReport!;
        Assert.True(report.ActiveLatentDimensions < 2, $"{report.ActiveLatentDimensions} active dimensions");
        Assert.Contains(warnings, w => w.Contains("Posterior collapse") && w.Contains("of 20 latent dimensions are active"));
    }

    [Fact]
    public void KlWarmupRampsBetaAndNeverKeepsAWarmupEpoch()
    {
        var ml = new MLContext(seed: 1);
        var data = ml.Data.Cache(TestData.LoadLabelledCsv(ml, TestData.NewsEmbeddingsCsv));
        var options = new VaeOptions
        {
            HiddenDim = 32, LatentDim = 4, Epochs = 7, BatchSize = 64, NumberOfThreads = 1, Seed = 1, Beta = 0.8, KlWarmupEpochs = 4,
            EarlyStoppingPatience = 0,
        };
        using var model = ml.Transforms.VariationalAutoencoder(options).Fit(data);
        var epochs = model.TrainingReport!.Epochs;
        Assert.Equal(new[] { 0, 0.2, 0.4, 0.6, 0.8, 0.8, 0.8 }, epochs.Select(e => e.KlWeight!.Value), (x, y) => Math.Abs(x - y) < 1e-12);
        Assert.All(epochs.Take(4), e => Assert.False(e.IsBest));
        Assert.InRange(model.TrainingReport.BestEpoch, 5, 7);
        // TrainLoss uses the epoch's own β.
        Assert.All(epochs, e => Assert.Equal(e.TrainReconstructionLoss + e.KlWeight!.Value * e.TrainKlDivergence, e.TrainLoss, 1e-3 * e.TrainLoss));

        // Without warm-up β is constant.
        options.KlWarmupEpochs = 0;
        options.Epochs = 2;
        using var plain = ml.Transforms.VariationalAutoencoder(options).Fit(data);
        Assert.All(plain.TrainingReport!.Epochs, e => Assert.Equal(0.8, e.KlWeight));
    }

    [Fact]
    public void WarmupLongerThanTrainingKeepsTheLastEpoch()
    {
        var ml = new MLContext(seed: 1);
        var data = TestData.Random(ml, 200, 6, seed: 3);
        using var model = ml.Transforms.VariationalAutoencoder(new VaeOptions
        {
            HiddenDim = 8, LatentDim = 2, Epochs = 3, NumberOfThreads = 1, Seed = 1, KlWarmupEpochs = 10,
        }).Fit(data);
        Assert.Equal(3, model.TrainingReport!.BestEpoch);
        Assert.All(model.TrainingReport.Epochs, e => Assert.False(e.IsBest));
    }

    [Fact]
    public void NegativeWarmupIsRejected()
    {
        var error = Assert.Throws<ArgumentOutOfRangeException>(() => new VaeOptions { KlWarmupEpochs = -1 }.Validate());
        Assert.Equal(nameof(VaeOptions.KlWarmupEpochs), error.ParamName);
    }
}
