using Microsoft.ML;
using MLNetVae.Tests.TestSupport;

namespace MLNetVae.Tests.Training;

/// <summary>
/// Training whose loss runs away while staying finite (a learning rate of 10, a huge β) ends in
/// <see cref="VaeTrainingDivergedException"/> naming the option at fault, never in a model that scores garbage or a
/// detector with a non-finite threshold. Before, LearningRate = 10 returned a VAE with loss 1.7e12 and a NaN threshold.
/// </summary>
public sealed class RunawayTrainingTests
{
    private static string CardioCsv => Path.Combine(AppContext.BaseDirectory, "TestData", "odds", "cardio.csv");

    [Fact]
    public void ALearningRateOfTenIsRefusedNamingTheLearningRate()
    {
        var ml = new MLContext(seed: 1);
        var data = ml.Data.Cache(TestData.LoadLabelledCsv(ml, CardioCsv));
        var ex = Assert.Throws<VaeTrainingDivergedException>(() => ml.AnomalyDetection.Trainers.VariationalAutoencoder(new VaeAnomalyOptions
        {
            LearningRate = 10, Epochs = 10, NumberOfThreads = 1, Seed = 1,
        }).Fit(data));
        Assert.Equal(nameof(VaeOptions.LearningRate), ex.SuspectedOption);
        Assert.Contains("LearningRate (10)", ex.Message);
        Assert.Contains("try 1 or the default 0.001", ex.Message);
        Assert.Contains("No model was returned", ex.Message);
        Assert.InRange(ex.Epoch, 1, 10);
    }

    [Fact]
    public void AHugeBetaIsRefusedNamingBetaNotOnlyTheLearningRate()
    {
        var ml = new MLContext(seed: 1);
        var data = ml.Data.Cache(TestData.LoadLabelledCsv(ml, CardioCsv));
        var ex = Assert.Throws<VaeTrainingDivergedException>(() => ml.Transforms.VariationalAutoencoder(new VaeOptions
        {
            InputColumnName = "Features", HiddenDim = 32, LatentDim = 4, Beta = 1e30, Epochs = 5, NumberOfThreads = 1, Seed = 1,
        }).Fit(data));
        Assert.Equal(nameof(VaeOptions.Beta), ex.SuspectedOption);
        Assert.Contains("Beta (1E+30) is the most likely cause", ex.Message);
        Assert.True(double.IsFinite(ex.Loss), $"loss {ex.Loss}: the finite-but-runaway check should fire, not the NaN one");
    }

    [Fact]
    public void ALateRunawaySaysWhichEpochWasBestAndHowToStopThere()
    {
        // A run that was healthy for 90 epochs (the featurizer at β 0.01, 300 epochs, no early stopping, on 20news).
        string late = MLNetVae.Training.VaeTrainer.LateRunawayHint(epoch: 91, bestValidationEpoch: 57, patience: 0);
        Assert.Contains("best validation loss in epoch 57", late);
        Assert.Contains("Epochs = 57 or early stopping (EarlyStoppingPatience > 0, now 0)", late);
        Assert.DoesNotContain("EarlyStoppingPatience", MLNetVae.Training.VaeTrainer.LateRunawayHint(91, 57, patience: 10));
        // Running away at once, or without validation rows to name a best epoch: nothing to add.
        Assert.Equal("", MLNetVae.Training.VaeTrainer.LateRunawayHint(epoch: 2, bestValidationEpoch: 1, patience: 0));
        Assert.Equal("", MLNetVae.Training.VaeTrainer.LateRunawayHint(epoch: 91, bestValidationEpoch: 0, patience: 0));
    }

    [Fact]
    public void HealthyTrainingStaysFarBelowTheRunawayCeiling()
    {
        // The same data with the default options: every epoch's loss is far below the ceiling the check uses, so the
        // check does not fire on ordinary runs (the real-data test trains every shared set with it on).
        var ml = new MLContext(seed: 1);
        var data = ml.Data.Cache(TestData.LoadLabelledCsv(ml, CardioCsv));
        using var detector = ml.AnomalyDetection.Trainers.VariationalAutoencoder(new VaeAnomalyOptions { Epochs = 10, NumberOfThreads = 1, Seed = 1 }).Fit(data);
        var features = MLNetVae.Data.FeatureMatrix.Read(data, "Features");
        var std = detector.Vae.Weights.Standardization!;
        MLNetVae.Training.StandardizationFitter.ApplyInPlace(features, std);
        double reference = MLNetVae.Training.VaeTrainer.ZeroReconstructionLoss(features, Enumerable.Range(0, features.Rows).ToArray());
        Assert.All(detector.Vae.TrainingReport!.Epochs, e => Assert.True(e.TrainLoss < 10 * reference, $"epoch {e.Epoch}: loss {e.TrainLoss}, reference {reference}"));
        Assert.True(float.IsFinite(detector.Threshold));
    }
}
