namespace MLNetVae;

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
    /// Rows of the shuffle buffer when <c>Fit</c> streamed its data (the input column exceeded
    /// <see cref="VaeTrainingOptions.MaxInMemoryTrainingBytes"/>); null when it trained on a copy in memory.
    /// </summary>
    [System.Text.Json.Serialization.JsonInclude]
    public int? ShuffleBufferRows { get; internal set; }

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
