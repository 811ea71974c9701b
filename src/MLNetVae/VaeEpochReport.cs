namespace MLNetVae;

/// <summary>Progress of <see cref="VaeEstimator.Fit"/> after one epoch. Losses are per row (the summed loss divided by the row count).</summary>
/// <param name="Epoch">1-based epoch number.</param>
/// <param name="TotalEpochs">The configured maximum number of epochs.</param>
/// <param name="TrainLoss">Training loss per row: <see cref="TrainReconstructionLoss"/> + β · <see cref="TrainKlDivergence"/> (β = <see cref="KlWeight"/> during KL warm-up).</param>
/// <param name="TrainReconstructionLoss">Summed squared reconstruction error per row (in the standardized scale when standardization is on).</param>
/// <param name="TrainKlDivergence">KL(q(z|x) ‖ N(0, I)) per row.</param>
/// <param name="ValidationLoss">Validation loss per row with z = mu (deterministic), or <see langword="null"/> without validation rows.</param>
/// <param name="SamplesPerSecond">Training rows processed per second in this epoch.</param>
/// <param name="Elapsed">Time since training started.</param>
/// <param name="IsBest">Whether this epoch's weights are the best so far (the ones <c>Fit</c> keeps).</param>
/// <param name="KlWeight">The β this epoch trained with: <see cref="VaeTrainingOptions.Beta"/>, or less during KL warm-up
/// (<see cref="VaeTrainingOptions.KlWarmupEpochs"/>); <see cref="TrainLoss"/> uses it. <see langword="null"/> when not recorded.</param>
public sealed record VaeEpochReport(
    int Epoch,
    int TotalEpochs,
    double TrainLoss,
    double TrainReconstructionLoss,
    double TrainKlDivergence,
    double? ValidationLoss,
    double SamplesPerSecond,
    TimeSpan Elapsed,
    bool IsBest,
    double? KlWeight = null)
{
    /// <summary>One line for logs: epoch, losses, validation loss and speed.</summary>
    public override string ToString() =>
        FormattableString.Invariant(
            $"epoch {Epoch}/{TotalEpochs}: loss {TrainLoss:G6} (reconstruction {TrainReconstructionLoss:G6}, KL {TrainKlDivergence:G6})") +
        (ValidationLoss is { } v ? FormattableString.Invariant($", validation {v:G6}{(IsBest ? " *" : "")}") : "") +
        FormattableString.Invariant($", {SamplesPerSecond:F0} rows/s");
}

/// <summary>What happened during training: every epoch's report and why training stopped.</summary>
public sealed class VaeTrainingReport
{
    // For System.Text.Json (saved models): every parameter binds to a property of the same name.
    [System.Text.Json.Serialization.JsonConstructor]
    private VaeTrainingReport(IReadOnlyList<VaeEpochReport> epochs, int bestEpoch, int trainingRows, int validationRows,
        string stopReason, string device, int threads, int seed, IReadOnlyList<double>? latentMeanVariance, IReadOnlyList<double>? klPerDimension)
        : this(epochs, bestEpoch, trainingRows, validationRows, stopReason, device, threads, seed,
            latentMeanVariance is null || klPerDimension is null ? null : new LatentDiagnostics(latentMeanVariance.ToArray(), klPerDimension.ToArray()))
    {
    }

    internal VaeTrainingReport(IReadOnlyList<VaeEpochReport> epochs, int bestEpoch, int trainingRows, int validationRows,
        string stopReason, string device, int threads, int seed, LatentDiagnostics? latent = null)
    {
        LatentMeanVariance = latent?.MeanVariance ?? Array.Empty<double>();
        KlPerDimension = latent?.KlPerDimension ?? Array.Empty<double>();
        ActiveLatentDimensions = LatentMeanVariance.Count(v => v > VaeOptions.Defaults.ActiveLatentVarianceThreshold);
        Epochs = epochs;
        BestEpoch = bestEpoch;
        TrainingRows = trainingRows;
        ValidationRows = validationRows;
        StopReason = stopReason;
        Device = device;
        Threads = threads;
        Seed = seed;
    }

    /// <summary>One report per completed epoch.</summary>
    public IReadOnlyList<VaeEpochReport> Epochs { get; }

    /// <summary>The epoch whose weights the model holds (the best validation loss, or the last epoch without validation).</summary>
    public int BestEpoch { get; }

    /// <summary>Rows used for the optimizer steps.</summary>
    public int TrainingRows { get; }

    /// <summary>Rows held out for validation (0 when <see cref="VaeTrainingOptions.ValidationFraction"/> is 0 or there were too few rows).</summary>
    public int ValidationRows { get; }

    /// <summary>Why training ended: all epochs done, or early stopping.</summary>
    public string StopReason { get; }

    /// <summary>The TorchSharp device used, e.g. <c>cpu</c> or <c>cuda:0</c>.</summary>
    public string Device { get; }

    /// <summary>TorchSharp threads used.</summary>
    public int Threads { get; }

    /// <summary>The seed that was used (drawn from the MLContext when <see cref="VaeTrainingOptions.Seed"/> was null).</summary>
    public int Seed { get; }

    /// <summary>
    /// Rows left out of training because their input held NaN or ±∞ (only with <see cref="VaeTrainingOptions.SkipNonFiniteRows"/>;
    /// otherwise such data is refused and this is 0). Not included in <see cref="TrainingRows"/> or <see cref="ValidationRows"/>.
    /// </summary>
    [System.Text.Json.Serialization.JsonInclude]
    public int SkippedNonFiniteRows { get; internal set; }

    /// <summary>
    /// Latent dimensions in use by the kept model: those whose mean <c>E[z|x]</c> varies across the training rows,
    /// <c>Var_x(mu_k) &gt; 0.01</c> (the "active units" of Burda et al., 2016). A dimension that is not active carries no
    /// information about the row (it collapsed onto the prior). <c>Fit</c> logs a warning when fewer than 10% are active;
    /// lower <see cref="VaeTrainingOptions.Beta"/>, use <see cref="VaeTrainingOptions.KlWarmupEpochs"/> or a smaller
    /// <see cref="VaeOptions.LatentDim"/> then. 0 when the diagnostics were not computed.
    /// </summary>
    public int ActiveLatentDimensions { get; }

    /// <summary>
    /// Per latent dimension: the variance of the latent mean over the training rows (population variance; over
    /// 16,384 evenly spaced training rows when there are more).
    /// </summary>
    public IReadOnlyList<double> LatentMeanVariance { get; }

    /// <summary>
    /// Per latent dimension: KL(q(z_k|x) ‖ N(0, 1)) averaged over the training rows (the same rows as
    /// <see cref="LatentMeanVariance"/>), in nats. Their sum is the mean KL
    /// per row of the kept model. Near-zero values mark collapsed dimensions.
    /// </summary>
    public IReadOnlyList<double> KlPerDimension { get; }

    /// <summary>The diagnostics of the kept model on the training rows, computed once after training.</summary>
    internal sealed record LatentDiagnostics(double[] MeanVariance, double[] KlPerDimension);
}
