namespace MLNetVae.Cli.Output;

/// <summary>The VAE options as written to a report.json.</summary>
internal sealed record VaeSettings(int HiddenDim, int LatentDim, int MaxEpochs, int BatchSize, double LearningRate, double Beta,
    double ValidationFraction, int EarlyStoppingPatience, bool Standardize, int? Seed)
{
    public static VaeSettings From(VaeOptions options) => new(options.HiddenDim, options.LatentDim, options.Epochs, options.BatchSize,
        options.LearningRate, options.Beta, options.ValidationFraction, options.EarlyStoppingPatience, options.Standardize, options.Seed);
}

/// <summary>What happened during training, as written to a report.json.</summary>
/// <param name="ShuffleBufferRows">Rows of the shuffle buffer when the data was streamed (larger than --max-in-memory-mib); null in memory.</param>
internal sealed record TrainingInfo(int EpochsRun, int BestEpoch, string StopReason, int TrainingRows, int ValidationRows,
    string Device, int Threads, int? ShuffleBufferRows, IReadOnlyList<EpochInfo> Epochs)
{
    public static TrainingInfo From(VaeTrainingReport training) => new(training.Epochs.Count, training.BestEpoch, training.StopReason,
        training.TrainingRows, training.ValidationRows, training.Device, training.Threads, training.ShuffleBufferRows,
        training.Epochs.Select(e => new EpochInfo(e.Epoch, e.TrainLoss, e.TrainReconstructionLoss, e.TrainKlDivergence,
            e.ValidationLoss, e.SamplesPerSecond, e.Elapsed.TotalSeconds, e.IsBest)).ToList());
}

/// <summary>One epoch in a report.json.</summary>
internal sealed record EpochInfo(int Epoch, double TrainLoss, double TrainReconstructionLoss, double TrainKlDivergence,
    double? ValidationLoss, double SamplesPerSecond, double ElapsedSeconds, bool IsBest);
