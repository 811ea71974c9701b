using System.Globalization;
using System.Text.Json.Serialization;

namespace MLNetVae;

/// <summary>
/// The training settings shared by <see cref="VaeOptions"/> (the featurizer) and <see cref="VaeAnomalyOptions"/> (the
/// anomaly detector): the optimizer, the schedule, standardization, the safeguards, threads, progress and
/// cancellation. Each setting is defined and validated here once; the two option classes add their own sizes and
/// columns and set their own defaults (see their <c>Defaults</c> classes).
/// </summary>
public abstract class VaeTrainingOptions
{
    private protected VaeTrainingOptions()
    {
    }

    /// <summary>Rows per optimizer step. Must be positive; the loss is summed over the rows of a batch.</summary>
    public int BatchSize { get; set; } = VaeOptions.Defaults.BatchSize;

    /// <summary>Adam learning rate. Must be positive and fit a float.</summary>
    public double LearningRate { get; set; } = VaeOptions.Defaults.LearningRate;

    /// <summary>
    /// Weight of the KL divergence in the loss (and, for the detector, in <see cref="VaeAnomalyScoreKind.NegativeElbo"/>).
    /// Must be non-negative and fit a float.
    /// </summary>
    public double Beta { get; set; } = VaeOptions.Defaults.Beta;

    /// <summary>
    /// KL warm-up: over the first this-many epochs the weight of the KL term grows linearly from 0 (epoch 1) to
    /// <see cref="Beta"/> (epoch <c>KlWarmupEpochs + 1</c> onwards), which keeps more latent dimensions in use
    /// (fewer collapse onto the prior). 0 (the default) turns it off. Warm-up epochs train a different objective, so
    /// they are never kept as the best epoch and do not count towards <see cref="EarlyStoppingPatience"/>;
    /// validation loss always uses the full <see cref="Beta"/>. Must be &gt;= 0.
    /// </summary>
    public int KlWarmupEpochs { get; set; } = VaeOptions.Defaults.KlWarmupEpochs;

    /// <summary>
    /// Seed of weight initialisation, shuffling, the validation split and the reparameterization noise (and of the
    /// detector's sampling scores and calibration split). <see langword="null"/> draws it from the <c>MLContext</c>'s
    /// random source, so <c>new MLContext(seed: 1)</c> is reproducible too.
    /// </summary>
    public int? Seed { get; set; }

    /// <summary>
    /// Standardize every feature with the mean and standard deviation of the training rows. The statistics are
    /// part of the model: the transformer and the exported ONNX graphs take and return data in the original scale.
    /// </summary>
    public bool Standardize { get; set; } = VaeOptions.Defaults.Standardize;

    /// <summary>
    /// Variance floor for <see cref="Standardize"/>: a feature's scale is at least this fraction of the mean
    /// standard deviation of all features (and never below 1e-6), so near-constant features such as image borders
    /// do not blow up. In [0, 1].
    /// </summary>
    public double StandardizeScaleFloor { get; set; } = VaeOptions.Defaults.StandardizeScaleFloor;

    /// <summary>
    /// With <see cref="Standardize"/>: a feature that takes one value (its minimum or its maximum) in more than 99% of
    /// the training rows — an image's border pixel, a rare indicator — is scaled by the size of its excursions from that
    /// value, its standard deviation divided by √(share of rows that differ), instead of by its standard deviation.
    /// A feature that is 0 in 99.8% of rows and sometimes 128 has a standard deviation of about 6, so each such speck is
    /// ~20 standard deviations and dominates a squared-error score; measured by its excursions it is ~1. Continuous
    /// features are unaffected. Off for <see cref="VaeOptions"/> (standardization by standard deviation), on for
    /// <see cref="VaeAnomalyOptions"/>.
    /// </summary>
    public bool ScaleNearConstantFeaturesByExcursions { get; set; }

    /// <summary>
    /// Fraction of the rows held out as validation data, in [0, 1). With 0, no validation loss is computed,
    /// early stopping is off and the weights of the last epoch are kept.
    /// </summary>
    public double ValidationFraction { get; set; } = VaeOptions.Defaults.ValidationFraction;

    /// <summary>
    /// Stop after this many epochs without a lower validation loss and keep the best weights seen; 0 trains every
    /// epoch (the best validation weights are still kept when there is validation data).
    /// </summary>
    public int EarlyStoppingPatience { get; set; } = VaeOptions.Defaults.EarlyStoppingPatience;

    /// <summary>
    /// Share of each batch's rows, those with the largest loss, that the training step leaves out (a trimmed ELBO, as in
    /// least-trimmed-squares regression), in [0, 0.5). Unlabelled training data for a detector holds the anomalies it
    /// should flag; a VAE fitted to every row learns to reconstruct them too, and trimming keeps the model on the bulk of
    /// the data. 0 (<see cref="VaeOptions"/>' default) is the design's loss over every row; the detector trims 0.2
    /// (<see cref="VaeAnomalyOptions.Defaults.TrimmedLossFraction"/>, docs/evaluation.md). The reported training losses
    /// are those of the kept rows (what the steps minimize); the validation loss still counts every validation row.
    /// </summary>
    public double TrimmedLossFraction { get; set; } = VaeOptions.Defaults.TrimmedLossFraction;

    /// <summary>
    /// Training safeguard: the loss and the reparameterization use logvar clamped from above at this value, so one
    /// extreme input cannot overflow exp(logvar) and turn every weight into NaN (the unguarded design does that on
    /// standardized Shuttle data in its second epoch). It changes nothing while logvar stays below the limit
    /// (σ² ≈ 4.9e8 at 20): training is bit-identical on every data set that trains without it. The exported encoder's
    /// outputs are not clamped; the anomaly scores and the reconstruction-error columns use the same clamp, so they
    /// score a row as training saw it. Must be positive and fit a float.
    /// </summary>
    public double LogVarianceLimit { get; set; } = VaeOptions.Defaults.LogVarianceLimit;

    /// <summary>
    /// Optional: clip the gradient's global L2 norm to this value times the batch's row count (the loss is a sum over
    /// rows). Off by default (<see langword="null"/> or 0): measured on 23 real data sets, no single threshold helped
    /// everywhere and clipping changed results on sets that train fine; <see cref="LogVarianceLimit"/> is what keeps
    /// training finite. Must fit a float.
    /// </summary>
    public double? GradientClipNormPerRow { get; set; }

    /// <summary>
    /// Threads used by TorchSharp while training; <see langword="null"/> keeps TorchSharp's default, capped at
    /// <see cref="Environment.ProcessorCount"/> (which counts a container's CPU quota; libtorch's default does not) unless
    /// <c>OMP_NUM_THREADS</c> is set. The same seed and the same thread count give bit-identical weights on the CPU.
    /// </summary>
    public int? NumberOfThreads { get; set; }

    /// <summary>
    /// What <c>Fit</c> does with a training row whose input holds NaN or ±∞: by default (false) it throws an
    /// <see cref="ArgumentException"/> naming the column, row and feature; with true it leaves such rows out, logs how
    /// many (a warning on <c>MLContext.Log</c>) and reports the count in
    /// <see cref="VaeTrainingReport.SkippedNonFiniteRows"/>. Scoring is not affected: such rows get NaN outputs.
    /// </summary>
    public bool SkipNonFiniteRows { get; set; } = VaeOptions.Defaults.SkipNonFiniteRows;

    /// <summary>
    /// Largest input column, in bytes of float32 values (rows × features × 4), that <c>Fit</c> copies into memory to train
    /// on. A larger column is streamed instead: every epoch reads the data view again through a seeded shuffle buffer of
    /// this many bytes, so training memory stays flat however many rows there are (docs/scaling.md). <see langword="null"/>
    /// (the default) is a quarter of the memory available to the process (<see cref="GCMemoryInfo.TotalAvailableMemoryBytes"/>,
    /// which follows container limits): 6 GiB, two million rows of 768 features, on a 24 GiB machine. The quarter leaves
    /// room for the data view's own source (an in-memory source is a second copy), the model and scoring after training.
    /// Data that fits trains exactly as before. Streaming trains the same model with another validation split (by row
    /// position, <see cref="ValidationFraction"/> of the rows on average) and another row order, so its weights differ
    /// from the in-memory ones; for a fixed seed and source both are deterministic. Must be positive.
    /// </summary>
    public long? MaxInMemoryTrainingBytes { get; set; }

    /// <summary>
    /// The arithmetic the trained model scores with (<see cref="VaeScoringPrecision"/>): <see cref="VaeScoringPrecision.Float32"/>
    /// (the default) or <see cref="VaeScoringPrecision.Int8"/>, about twice the rows per second on CPUs with 8-bit dot
    /// products. Training is float32 either way; the setting is saved with the model and can be changed afterwards with
    /// <c>WithScoringPrecision</c>. The detector's threshold and kept scores are computed at the precision set here.
    /// </summary>
    public VaeScoringPrecision ScoringPrecision { get; set; } = VaeScoringPrecision.Float32;

    /// <summary>Receives a report after every epoch. Reports are also written to <c>MLContext.Log</c>.</summary>
    [JsonIgnore]
    public IProgress<VaeEpochReport>? Progress { get; set; }

    /// <summary>
    /// Cancels training between batches; <c>Fit</c> then throws <see cref="VaeTrainingCancelledException"/> (an
    /// <see cref="OperationCanceledException"/>) whose <see cref="VaeTrainingCancelledException.BestModelSoFar"/> holds
    /// the best model of the epochs completed until then.
    /// </summary>
    [JsonIgnore]
    public CancellationToken CancellationToken { get; set; }

    /// <summary>Copies every setting of this class onto <paramref name="target"/> (the detector's options onto the VAE's).</summary>
    private protected void CopyTrainingSettingsTo(VaeTrainingOptions target)
    {
        target.BatchSize = BatchSize;
        target.LearningRate = LearningRate;
        target.Beta = Beta;
        target.KlWarmupEpochs = KlWarmupEpochs;
        target.Seed = Seed;
        target.Standardize = Standardize;
        target.StandardizeScaleFloor = StandardizeScaleFloor;
        target.ScaleNearConstantFeaturesByExcursions = ScaleNearConstantFeaturesByExcursions;
        target.ValidationFraction = ValidationFraction;
        target.EarlyStoppingPatience = EarlyStoppingPatience;
        target.LogVarianceLimit = LogVarianceLimit;
        target.TrimmedLossFraction = TrimmedLossFraction;
        target.GradientClipNormPerRow = GradientClipNormPerRow;
        target.NumberOfThreads = NumberOfThreads;
        target.SkipNonFiniteRows = SkipNonFiniteRows;
        target.MaxInMemoryTrainingBytes = MaxInMemoryTrainingBytes;
        target.ScoringPrecision = ScoringPrecision;
        target.Progress = Progress;
        target.CancellationToken = CancellationToken;
    }

    /// <summary>Checks the settings of this class; the message names the option as <c>VaeOptions.X</c> or <c>VaeAnomalyOptions.X</c>.</summary>
    private protected void ValidateTrainingSettings()
    {
        if (BatchSize <= 0)
            throw OutOfRange(nameof(BatchSize), BatchSize, "a value > 0");
        RequireFloat(nameof(LearningRate), LearningRate, positive: true);
        RequireFloat(nameof(Beta), Beta, positive: false);
        if (KlWarmupEpochs < 0)
            throw OutOfRange(nameof(KlWarmupEpochs), KlWarmupEpochs, "a value >= 0 (0 turns warm-up off)");
        if (!(StandardizeScaleFloor >= 0 && StandardizeScaleFloor <= 1))
            throw OutOfRange(nameof(StandardizeScaleFloor), StandardizeScaleFloor, "a value in [0, 1]");
        if (!(ValidationFraction >= 0 && ValidationFraction < 1))
            throw OutOfRange(nameof(ValidationFraction), ValidationFraction, "a value in [0, 1)");
        if (EarlyStoppingPatience < 0)
            throw OutOfRange(nameof(EarlyStoppingPatience), EarlyStoppingPatience, "a value >= 0 (0 disables early stopping)");
        RequireFloat(nameof(LogVarianceLimit), LogVarianceLimit, positive: true);
        if (!(TrimmedLossFraction >= 0 && TrimmedLossFraction < 0.5))
            throw OutOfRange(nameof(TrimmedLossFraction), TrimmedLossFraction, "a value in [0, 0.5) (0 trains on every row)");
        if (GradientClipNormPerRow is { } clip && (!double.IsFinite(clip) || clip < 0 || clip > float.MaxValue))
            throw OutOfRange(nameof(GradientClipNormPerRow), clip, $"null, 0 (off) or a value > 0 that fits a float (at most {float.MaxValue:G9})");
        if (MaxInMemoryTrainingBytes is { } bytes && bytes <= 0)
            throw OutOfRange(nameof(MaxInMemoryTrainingBytes), bytes, "null (a quarter of the memory available to the process) or a number of bytes > 0");
        if (NumberOfThreads is { } threads && threads <= 0)
            throw OutOfRange(nameof(NumberOfThreads), threads, "null (TorchSharp's default) or a value > 0");
        if (!Enum.IsDefined(ScoringPrecision))
            throw OutOfRange(nameof(ScoringPrecision), ScoringPrecision, $"one of {string.Join(", ", Enum.GetNames<VaeScoringPrecision>())}");
    }

    /// <summary><see cref="MaxInMemoryTrainingBytes"/>, with its default resolved for this process.</summary>
    internal long ResolvedMaxInMemoryTrainingBytes() => MaxInMemoryTrainingBytes ?? DefaultMaxInMemoryTrainingBytes();

    /// <summary>A quarter of the memory the GC may use (physical memory, or the container's limit); 4 GiB when unknown.</summary>
    internal static long DefaultMaxInMemoryTrainingBytes()
    {
        long available = GC.GetGCMemoryInfo().TotalAvailableMemoryBytes;
        return available > 0 ? available / 4 : 4L << 30;
    }

    /// <summary>A column option must name a column: not null, empty or whitespace.</summary>
    private protected void RequireName(string? name, string option)
    {
        if (string.IsNullOrWhiteSpace(name))
            throw new ArgumentException($"{GetType().Name}.{option} must name a column; it is empty.", option);
    }

    /// <summary>
    /// The output columns (name, option) each name a column, none is named like the input column (named
    /// <paramref name="inputRole"/>, e.g. "input column") and no two share a name. Optional outputs that are off are not
    /// passed.
    /// </summary>
    private protected void RequireDistinctOutputs(string inputName, string inputRole, IReadOnlyList<(string? Name, string Option)> named)
    {
        foreach (var (name, option) in named)
            RequireName(name, option);
        var clash = named.FirstOrDefault(o => string.Equals(o.Name, inputName, StringComparison.Ordinal));
        if (clash.Name is not null)
            throw new ArgumentException(
                $"{GetType().Name}.{clash.Option} is '{clash.Name}', the name of the {inputRole}. Give the output its own name (the {inputRole} stays readable after scoring).");
        var duplicate = named.GroupBy(o => o.Name, StringComparer.Ordinal).FirstOrDefault(g => g.Count() > 1);
        if (duplicate is not null)
            throw new ArgumentException(
                $"The output columns {string.Join(" and ", duplicate.Select(d => d.Option))} are both named '{duplicate.Key}'. Give each output column its own name.");
    }

    // Training computes in float32: a value past float.MaxValue would silently become ∞ there.
    private void RequireFloat(string option, double value, bool positive)
    {
        if (!double.IsFinite(value) || (positive ? value <= 0 : value < 0) || value > float.MaxValue)
            throw OutOfRange(option, value, $"a finite value {(positive ? "> 0" : ">= 0")} that fits a float (at most {float.MaxValue:G9})");
    }

    private protected ArgumentOutOfRangeException OutOfRange(string option, object value, string allowed) =>
        new(option, value, $"{GetType().Name}.{option} is {Convert.ToString(value, CultureInfo.InvariantCulture)}; it must be {allowed}.");
}
