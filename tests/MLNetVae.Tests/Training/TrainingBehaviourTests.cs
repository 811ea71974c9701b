using Microsoft.ML;
using Microsoft.ML.Data;
using MLNetVae.Tests.TestSupport;

namespace MLNetVae.Tests.Training;

/// <summary>Fit on real data: learning, determinism, progress, cancellation, divergence, devices and input errors.</summary>
public class TrainingBehaviourTests
{
    private static VaeOptions Small(int epochs = 4) => new()
    {
        HiddenDim = 32, LatentDim = 4, Epochs = epochs, BatchSize = 64, NumberOfThreads = 2, Seed = 7,
    };

    private static IDataView News(MLContext ml) => TestData.LoadLabelledCsv(ml, TestData.NewsEmbeddingsCsv);

    [Fact]
    public void TrainingLowersTheLossOnRealEmbeddings()
    {
        var ml = new MLContext(seed: 1);
        using var model = ml.Transforms.VariationalAutoencoder(Small(epochs: 15)).Fit(News(ml));
        var epochs = model.TrainingReport!.Epochs;
        Assert.True(epochs[^1].TrainLoss < 0.8 * epochs[0].TrainLoss,
            $"train loss went from {epochs[0].TrainLoss} to {epochs[^1].TrainLoss}");
        Assert.All(epochs, e => Assert.Equal(e.TrainReconstructionLoss + 0.01 * e.TrainKlDivergence, e.TrainLoss, 1e-3 * e.TrainLoss));
        Assert.Equal(554, model.TrainingReport.TrainingRows); // 615 rows, floor(10%) = 61 held out
        Assert.Equal(61, model.TrainingReport.ValidationRows);
        Assert.All(epochs, e => Assert.NotNull(e.ValidationLoss));
    }

    [Fact]
    public void SameSeedAndThreadsGiveBitIdenticalWeights_AnotherSeedDoesNot()
    {
        var ml = new MLContext(seed: 1);
        var data = News(ml);
        float[] Weights(int seed)
        {
            var options = Small(epochs: 2);
            options.Seed = seed;
            using var model = ml.Transforms.VariationalAutoencoder(options).Fit(data);
            return model.Weights.Encoder.Concat(model.Weights.Decoder).SelectMany(l => l.Weight.Concat(l.Bias)).ToArray();
        }

        var first = Weights(11);
        Assert.Equal(first, Weights(11));
        Assert.NotEqual(first, Weights(12));
    }

    [Fact]
    public void MLContextSeedMakesTrainingReproducibleWithoutAnOptionSeed()
    {
        float[] Train()
        {
            var ml = new MLContext(seed: 5);
            var options = Small(epochs: 1);
            options.Seed = null;
            using var model = ml.Transforms.VariationalAutoencoder(options).Fit(News(ml));
            return model.Weights.Decoder[2].Weight;
        }

        Assert.Equal(Train(), Train());
    }

    [Fact]
    public void ProgressReportsEveryEpochAndLogReachesMLContext()
    {
        var ml = new MLContext(seed: 1);
        var log = new List<string>();
        ml.Log += (_, e) => { lock (log) log.Add(e.Message); };
        var reports = new List<VaeEpochReport>();
        var options = Small(epochs: 3);
        options.Progress = new SynchronousProgress<VaeEpochReport>(reports.Add);
        using var model = ml.Transforms.VariationalAutoencoder(options).Fit(News(ml));

        Assert.Equal(new[] { 1, 2, 3 }, reports.Select(r => r.Epoch));
        Assert.All(reports, r =>
        {
            Assert.Equal(3, r.TotalEpochs);
            Assert.True(r.SamplesPerSecond > 0);
            Assert.True(r.TrainReconstructionLoss > 0 && r.TrainKlDivergence >= 0);
        });
        Assert.Equal(reports, model.TrainingReport!.Epochs);
        Assert.Contains(log, m => m.Contains("epoch 2/3: loss"));
        Assert.Contains(log, m => m.Contains("Training a VAE 768/32/4 on 615 rows"));
    }

    [Fact]
    public void CancellationStopsTrainingBetweenBatches()
    {
        var ml = new MLContext(seed: 1);
        using var cancellation = new CancellationTokenSource();
        var reports = new List<VaeEpochReport>();
        var options = Small(epochs: 50);
        options.CancellationToken = cancellation.Token;
        options.Progress = new SynchronousProgress<VaeEpochReport>(r =>
        {
            reports.Add(r);
            if (r.Epoch == 2) cancellation.Cancel();
        });
        Assert.ThrowsAny<OperationCanceledException>(() => ml.Transforms.VariationalAutoencoder(options).Fit(News(ml)));
        Assert.Equal(2, reports.Count);
    }

    [Fact]
    public void AlreadyCancelledTokenStopsBeforeTraining()
    {
        var ml = new MLContext(seed: 1);
        var options = Small();
        options.CancellationToken = new CancellationToken(canceled: true);
        var ex = Assert.Throws<VaeTrainingCancelledException>(() => ml.Transforms.VariationalAutoencoder(options).Fit(News(ml)));
        Assert.Null(ex.BestModelSoFar);
        Assert.Equal(options.CancellationToken, ex.CancellationToken);
    }

    [Fact]
    public void AValidationBlockWhoseFloat32SumWouldOverflowIsNotADivergence()
    {
        // Unstandardized rows of ~2e17: about 4e35 of loss per row, finite in every 64-row training batch (~3e37) but past
        // float32's 3.4e38 when one 1,024-row validation block is summed in float32 (before: "the loss became ∞").
        var ml = new MLContext(seed: 1);
        var data = TestData.Random(ml, 2_200, width: 8, seed: 6, scale: 4e17f);
        var options = Small(epochs: 1);
        options.Standardize = false;
        options.ValidationFraction = 0.5;
        using var model = ml.Transforms.VariationalAutoencoder(options).Fit(data);
        var validation = model.TrainingReport!.Epochs[0].ValidationLoss!.Value;
        Assert.True(double.IsFinite(validation) && validation > 1e35, $"validation loss per row {validation}");
    }

    [Theory]
    [InlineData(false)] // in memory
    [InlineData(true)]  // streamed (a budget the rows do not fit)
    public void ACancelledRunsReportCountsTheSkippedRowsAndTheShuffleBufferAsAFinishedOneDoes(bool streamed)
    {
        var ml = new MLContext(seed: 1);
        var rows = Enumerable.Range(0, 400).Select(i => Enumerable.Range(0, 6).Select(j => (float)Math.Sin(i * 0.37 + j)).ToArray()).ToArray();
        foreach (int i in new[] { 3, 50, 51, 222 })
            rows[i][2] = float.NaN;
        using var cancellation = new CancellationTokenSource();
        var options = Small(epochs: 50);
        options.SkipNonFiniteRows = true;
        options.MaxInMemoryTrainingBytes = streamed ? 4_000 : null;
        options.CancellationToken = cancellation.Token;
        options.Progress = new SynchronousProgress<VaeEpochReport>(r => { if (r.Epoch == 2) cancellation.Cancel(); });
        var ex = Assert.Throws<VaeTrainingCancelledException>(() => ml.Transforms.VariationalAutoencoder(options).Fit(TestData.FromArrays(ml, rows)));

        using var kept = ex.BestModelSoFar;
        Assert.NotNull(kept);
        var report = kept.TrainingReport!;
        Assert.Equal(4, report.SkippedNonFiniteRows);
        if (streamed)
            Assert.NotNull(report.ShuffleBufferRows);
        else
            Assert.Null(report.ShuffleBufferRows);
    }

    [Theory]
    [InlineData(0.1)] // with validation data: the best validation epoch so far
    [InlineData(0.0)] // without: the last completed epoch
    public void CancellationKeepsTheModelOfTheEpochsCompletedSoFar(double validationFraction)
    {
        // Cancelled during epoch 3 of 50, the exception carries exactly the model an uncancelled 2-epoch run returns.
        var ml = new MLContext(seed: 1);
        var data = News(ml);
        var expectedOptions = Small(epochs: 2);
        expectedOptions.ValidationFraction = validationFraction;
        using var expected = ml.Transforms.VariationalAutoencoder(expectedOptions).Fit(data);

        using var cancellation = new CancellationTokenSource();
        var options = Small(epochs: 50);
        options.ValidationFraction = validationFraction;
        options.CancellationToken = cancellation.Token;
        options.Progress = new SynchronousProgress<VaeEpochReport>(r => { if (r.Epoch == 2) cancellation.Cancel(); });
        var ex = Assert.Throws<VaeTrainingCancelledException>(() => ml.Transforms.VariationalAutoencoder(options).Fit(data));

        using var kept = ex.BestModelSoFar;
        Assert.NotNull(kept);
        Assert.Contains("after 2 completed epoch", ex.Message);
        var report = kept.TrainingReport!;
        Assert.Equal(2, report.Epochs.Count);
        Assert.Equal(expected.TrainingReport!.BestEpoch, report.BestEpoch);
        Assert.StartsWith("cancelled during epoch 3 of 50", report.StopReason);
        Assert.Equal(Flatten(expected), Flatten(kept));
        Assert.Equal(TestData.ReadScalars(expected.Transform(data), "ReconstructionError"),
            TestData.ReadScalars(kept.Transform(data), "ReconstructionError"));

        static float[] Flatten(VaeTransformer model) =>
            model.Weights.Encoder.Concat(model.Weights.Decoder).SelectMany(l => l.Weight.Concat(l.Bias)).ToArray();
    }

    [Fact]
    public void CancellationDuringKlWarmUpWithValidationKeepsTheLastWarmUpEpoch()
    {
        // Warm-up epochs are not validated, so no "best validation epoch" exists yet: the last completed epoch is kept,
        // exactly the model an uncancelled 2-epoch run returns.
        var ml = new MLContext(seed: 1);
        var data = News(ml);
        VaeOptions WarmingUp(int epochs)
        {
            var o = Small(epochs);
            o.KlWarmupEpochs = 4;
            o.ValidationFraction = 0.1;
            return o;
        }
        using var expected = ml.Transforms.VariationalAutoencoder(WarmingUp(2)).Fit(data);

        using var cancellation = new CancellationTokenSource();
        var options = WarmingUp(50);
        options.CancellationToken = cancellation.Token;
        options.Progress = new SynchronousProgress<VaeEpochReport>(r => { if (r.Epoch == 2) cancellation.Cancel(); });
        var ex = Assert.Throws<VaeTrainingCancelledException>(() => ml.Transforms.VariationalAutoencoder(options).Fit(data));

        using var kept = ex.BestModelSoFar;
        Assert.NotNull(kept);
        Assert.Equal(2, kept.TrainingReport!.BestEpoch);
        Assert.Equal(Flatten(expected), Flatten(kept));
    }

    [Fact]
    public void CancellationDuringTheFinalPassOverStreamedRowsKeepsTheTrainedModel()
    {
        // Streamed rows (over the memory budget) are read once more after the last epoch, for the latent diagnostics;
        // Ctrl+C there must not throw away the epochs already trained.
        var ml = new MLContext(seed: 1);
        var data = News(ml);
        using var cancellation = new CancellationTokenSource();
        var options = Small(epochs: 2);
        options.MaxInMemoryTrainingBytes = 1_200;
        options.CancellationToken = cancellation.Token;
        options.Progress = new SynchronousProgress<VaeEpochReport>(r => { if (r.Epoch == 2) cancellation.Cancel(); });
        var ex = Assert.Throws<VaeTrainingCancelledException>(() => ml.Transforms.VariationalAutoencoder(options).Fit(data));

        using var kept = ex.BestModelSoFar;
        Assert.NotNull(kept);
        Assert.Equal(2, kept.TrainingReport!.Epochs.Count);
        Assert.StartsWith("cancelled after epoch 2 of 2, during the final pass", kept.TrainingReport.StopReason);
        Assert.All(TestData.ReadScalars(kept.Transform(data), "ReconstructionError"), e => Assert.True(float.IsFinite(e)));
    }

    private static float[] Flatten(VaeTransformer model) =>
        model.Weights.Encoder.Concat(model.Weights.Decoder).SelectMany(l => l.Weight.Concat(l.Bias)).ToArray();

    [Fact]
    public void TrainingSurvivesGarbageCollectionsOnOtherThreads()
    {
        // TorchSharp 0.107 frees a temporary Scalar's native memory in its finalizer, and passes only the handle to
        // libtorch; with optim.Adam and `t * 0.5`-style code every one of 20 small trainings failed under this load
        // ("Expected false to be true" from c10/core/Scalar.h). The trainer holds its Scalars (TrainingScalars, VaeAdam).
        var ml = new MLContext(seed: 1);
        var data = ml.Data.Cache(News(ml));
        using var stop = new CancellationTokenSource();
        var collector = new Thread(() =>
        {
            while (!stop.IsCancellationRequested)
            {
                GC.Collect();
                GC.WaitForPendingFinalizers();
            }
        }) { IsBackground = true };
        collector.Start();
        try
        {
            for (int run = 0; run < 3; run++)
            {
                var options = new VaeOptions { HiddenDim = 16, LatentDim = 2, Epochs = 5, BatchSize = 16, NumberOfThreads = 1, Seed = run };
                using var model = ml.Transforms.VariationalAutoencoder(options).Fit(data);
                Assert.True(model.Weights.AllFinite());
            }
        }
        finally
        {
            stop.Cancel();
            collector.Join();
        }
    }

    [Fact]
    public void EarlyStoppingKeepsTheBestValidationEpoch()
    {
        var ml = new MLContext(seed: 1);
        var options = Small(epochs: 200);
        options.EarlyStoppingPatience = 2;
        options.LearningRate = 0.01; // overfits 553 rows quickly, so validation stops improving
        using var model = ml.Transforms.VariationalAutoencoder(options).Fit(News(ml));
        var report = model.TrainingReport!;
        Assert.StartsWith("early stopping", report.StopReason);
        Assert.True(report.Epochs.Count < 200);
        Assert.Equal(report.Epochs.Count - 2, report.BestEpoch);
        var best = report.Epochs.Single(e => e.Epoch == report.BestEpoch);
        Assert.Equal(report.Epochs.Min(e => e.ValidationLoss), best.ValidationLoss);
        Assert.True(best.IsBest);
    }

    [Fact]
    public void ExtremeValuesWithoutStandardizationRaiseAClearDivergenceError()
    {
        var ml = new MLContext(seed: 1);
        var data = TestData.Random(ml, rows: 100, width: 6, seed: 3, scale: 1e30f);
        var options = Small();
        options.Standardize = false;
        var ex = Assert.Throws<VaeTrainingDivergedException>(() => ml.Transforms.VariationalAutoencoder(options).Fit(data));
        Assert.Equal(1, ex.Epoch);
        Assert.Equal(1, ex.Batch);
        Assert.False(double.IsFinite(ex.Loss));
        Assert.Contains("epoch 1, batch 1", ex.Message);
        Assert.Contains("LearningRate", ex.Message);
    }

    [Fact]
    public void TheUnguardedDesignDivergesOnShuttleAndTheDefaultGuardKeepsItFinite()
    {
        // Shuttle's standardized outliers (up to 122) drive logvar until exp overflows: the PyTorch reference and
        // this trainer without the guard both die in epoch 2. The default LogVarianceLimit keeps every weight finite.
        var ml = new MLContext(seed: 1);
        var shuttle = TestData.LoadLabelledCsv(ml, TestData.ShuttleCsv);
        var options = new VaeOptions { Epochs = 2, NumberOfThreads = 1, Seed = 0, ValidationFraction = 0 };

        var unguarded = options.Clone();
        unguarded.LogVarianceLimit = double.PositiveInfinity; // not allowed through the public API
        var data = MLNetVae.Data.FeatureMatrix.Read(shuttle, "Features");
        var ex = Assert.Throws<VaeTrainingDivergedException>(
            () => new MLNetVae.Training.VaeTrainer(unguarded, 0, TorchSharp.torch.CPU, _ => { }).Train(data));
        // logvar runs away in epoch 1 (β·KL far above the loss of reconstructing every row as zero) and overflows in
        // epoch 2; the runaway check stops it at the first.
        Assert.InRange(ex.Epoch, 1, 2);
        Assert.Contains("LogVarianceLimit", ex.Message);

        using var model = ml.Transforms.VariationalAutoencoder(options).Fit(shuttle);
        Assert.True(model.Weights.AllFinite());
        Assert.All(model.TrainingReport!.Epochs, e => Assert.True(double.IsFinite(e.TrainLoss)));
    }

    [Fact]
    public void AskingForAGpuWithoutCudaFailsClearlyOrFallsBack()
    {
        var ml = new MLContext(seed: 1) { GpuDeviceId = 0, FallbackToCpu = false };
        var ex = Assert.Throws<InvalidOperationException>(() => ml.Transforms.VariationalAutoencoder(Small(1)).Fit(News(ml)));
        Assert.Contains("GpuDeviceId is 0", ex.Message);
        Assert.Contains("FallbackToCpu", ex.Message);

        ml.FallbackToCpu = true;
        var warnings = new List<string>();
        ml.Log += (_, e) => { if (e.Kind == Microsoft.ML.Runtime.ChannelMessageKind.Warning) lock (warnings) warnings.Add(e.Message); };
        using var model = ml.Transforms.VariationalAutoencoder(Small(1)).Fit(News(ml));
        Assert.Equal("cpu", model.TrainingReport!.Device.ToLowerInvariant());
        Assert.Contains(warnings, w => w.Contains("Training on the CPU"));
    }

    [Fact]
    public void MissingInputColumnNamesTheColumnAndWhatIsThere()
    {
        var ml = new MLContext(seed: 1);
        var options = Small();
        options.InputColumnName = "Embedding";
        var ex = Assert.Throws<ArgumentOutOfRangeException>(() => ml.Transforms.VariationalAutoencoder(options).Fit(News(ml)));
        Assert.Contains("'Embedding' was not found", ex.Message);
        Assert.Contains("'Features' (Vector<Single, 768>)", ex.Message);
        Assert.Contains("Set VaeOptions.InputColumnName", ex.Message);
    }

    [Fact]
    public void ScalarInputColumnIsRejectedWithItsType()
    {
        var ml = new MLContext(seed: 1);
        var options = Small();
        options.InputColumnName = "Label";
        var ex = Assert.Throws<ArgumentOutOfRangeException>(() => ml.Transforms.VariationalAutoencoder(options).Fit(News(ml)));
        Assert.Contains("'Label' has type Single", ex.Message);
        Assert.Contains("known-size vector of Single", ex.Message);
    }

    [Fact]
    public void NaNInTrainingDataNamesRowAndFeature()
    {
        var ml = new MLContext(seed: 1);
        var rows = TestData.ReadVectors(News(ml), "Features").Take(20).ToArray();
        rows[13][5] = float.NaN;
        var ex = Assert.Throws<ArgumentException>(() => ml.Transforms.VariationalAutoencoder(Small()).Fit(TestData.FromArrays(ml, rows)));
        Assert.Contains("row 13 feature 5 is NaN", ex.Message);
        Assert.Contains("ReplaceMissingValues", ex.Message);
    }

    [Fact]
    public void EmptyDataIsRejected()
    {
        var ml = new MLContext(seed: 1);
        var empty = ml.Data.FilterRowsByColumn(News(ml), "Label", lowerBound: 5, upperBound: 6);
        var ex = Assert.Throws<ArgumentException>(() => ml.Transforms.VariationalAutoencoder(Small()).Fit(empty));
        Assert.Contains("no rows", ex.Message);
    }

    [Fact]
    public void EstimatorSchemaPropagatesThroughAChainAndChecksTheInput()
    {
        var ml = new MLContext(seed: 1);
        var data = News(ml);
        var shape = ml.Transforms.VariationalAutoencoder(Small())
            .Append(ml.Transforms.CopyColumns("MuCopy", "Mu"))
            .GetOutputSchema(TestData.NewsShape());
        var names = shape.Select(c => c.Name).ToList();
        Assert.Contains("Mu", names);
        Assert.Contains("MuCopy", names);
        Assert.Contains("ReconstructionError", names);
        var error = shape.Single(c => c.Name == "ReconstructionError");
        Assert.Equal(SchemaShape.Column.VectorKind.Scalar, error.Kind);
        Assert.Equal(NumberDataViewType.Single, error.ItemType);

        var options = Small();
        options.InputColumnName = "Label";
        var ex = Assert.Throws<ArgumentOutOfRangeException>(() => ml.Transforms.VariationalAutoencoder(options).GetOutputSchema(TestData.NewsShape()));
        Assert.Contains("'Label' is a scalar Single", ex.Message);
    }

    /// <summary>Progress&lt;T&gt; posts to the thread pool; tests need the callback on the training thread.</summary>
    private sealed class SynchronousProgress<T>(Action<T> report) : IProgress<T>
    {
        public void Report(T value) => report(value);
    }
}
