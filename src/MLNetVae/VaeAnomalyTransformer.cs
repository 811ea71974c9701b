using Microsoft.ML;
using Microsoft.ML.Data;
using Microsoft.ML.Runtime;
using MLNetVae.AnomalyDetection;
using MLNetVae.MLNet;
using MLNetVae.Persistence;
using MLNetVae.Scoring;

namespace MLNetVae;

/// <summary>
/// A trained VAE anomaly detector. <see cref="Transform"/> adds a score column (Single, higher = more anomalous) and a
/// predicted label column (Boolean, true when the score is above <see cref="Threshold"/>), plus optionally each
/// feature's squared reconstruction error; the output goes straight into <c>mlContext.AnomalyDetection.Evaluate</c>.
/// </summary>
/// <remarks>
/// Scoring is lazy and batched like <see cref="VaeTransformer.Transform"/>: a cursor scores a block of rows per ONNX
/// Runtime call. The threshold can be changed without retraining (<see cref="WithThreshold"/>, <see cref="WithContamination"/>,
/// <see cref="WithThresholdForFalsePositiveRate"/>); the new transformer shares this one's trained <see cref="Vae"/>.
/// </remarks>
public sealed class VaeAnomalyTransformer : ITransformer, IDisposable
{
    private readonly IHostEnvironment environment;
    private readonly VaeAnomalyOptions options;
    private readonly float[] trainingScores;
    private readonly float[] calibrationScores;
    private readonly AnomalyScoreDefinition score;
    private readonly ScorerSlot<AnomalyOnnxScorer> scorers;

    /// <param name="environment">The host (log, seed) of the MLContext that made or loaded the detector.</param>
    /// <param name="options">The resolved options (sizes and epochs filled in).</param>
    /// <param name="vae">The trained VAE, shared with every detector derived from this one.</param>
    /// <param name="scores">The sorted training and calibration scores kept from <c>Fit</c>.</param>
    /// <param name="seed">Seed of the sampling scores' noise table.</param>
    /// <param name="threshold">The threshold and where it came from.</param>
    /// <param name="scorers">The score sessions of a detector with the same model and score (derived detectors share them), or null for new ones.</param>
    internal VaeAnomalyTransformer(IHostEnvironment environment, VaeAnomalyOptions options, VaeTransformer vae, CalibrationScores scores,
        int seed, AnomalyThreshold threshold, ScorerSlot<AnomalyOnnxScorer>? scorers = null)
    {
        this.environment = environment;
        this.options = options.Clone();
        this.options.Progress = null;
        this.options.CancellationToken = default;
        Vae = vae;
        trainingScores = scores.Training;
        calibrationScores = scores.Calibration;
        ThresholdSource = threshold.Source;
        Contamination = threshold.Contamination;
        TargetFalsePositiveRate = threshold.FalsePositiveRate;
        Threshold = threshold.Value;
        score = new AnomalyScoreDefinition(options.ScoreKind, options.MonteCarloSamples, seed, vae.Options.Beta, (float)vae.Options.LogVarianceLimit,
            options.ScoringPrecision, options.Likelihood);
        this.scorers = scorers ?? new ScorerSlot<AnomalyOnnxScorer>(() =>
        {
            var (gpuDeviceId, fallbackToCpu) = HostEnvironmentAccess.DeviceSettings(environment);
            return new AnomalyOnnxScorer(Vae.Weights, score, gpuDeviceId, fallbackToCpu);
        });
    }

    /// <summary>The trained variational autoencoder (latent features, reconstructions, generation). Shared by every transformer derived from this one.</summary>
    public VaeTransformer Vae { get; }

    /// <summary>A row is an anomaly when its score is above this value.</summary>
    public float Threshold { get; }

    /// <summary>How <see cref="Threshold"/> was chosen.</summary>
    public VaeAnomalyThresholdSource ThresholdSource { get; }

    /// <summary>The contamination the threshold was derived from, or <see langword="null"/> when it came from elsewhere.</summary>
    public double? Contamination { get; }

    /// <summary>The false-positive rate the threshold was chosen for, or <see langword="null"/> when it came from elsewhere.</summary>
    public double? TargetFalsePositiveRate { get; }

    /// <summary>The arithmetic this detector scores with (<see cref="VaeTrainingOptions.ScoringPrecision"/>).</summary>
    public VaeScoringPrecision ScoringPrecision => score.Precision;

    /// <summary>
    /// A detector with the same trained model, threshold and kept scores that scores with <paramref name="precision"/>
    /// (for example <see cref="VaeScoringPrecision.Int8"/>, about twice the rows per second). The threshold and the
    /// kept scores stay those computed at the precision the detector had, so a row whose score lies within the
    /// quantization error of the threshold can be labelled differently; set <see cref="VaeTrainingOptions.ScoringPrecision"/>
    /// before <c>Fit</c>, or call <see cref="WithThresholdForFalsePositiveRate"/> on the new detector, for a threshold
    /// set at the new precision. Saving the detector saves the precision.
    /// </summary>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="precision"/> is not a <see cref="VaeScoringPrecision"/> value.</exception>
    public VaeAnomalyTransformer WithScoringPrecision(VaeScoringPrecision precision)
    {
        var vae = Vae.WithScoringPrecision(precision); // validates
        var copy = options.Clone();
        copy.ScoringPrecision = precision;
        return new VaeAnomalyTransformer(environment, copy, vae, new CalibrationScores(trainingScores, calibrationScores), score.Seed,
            new AnomalyThreshold(Threshold, ThresholdSource, Contamination, TargetFalsePositiveRate));
    }

    /// <summary>The score this detector computes.</summary>
    public VaeAnomalyScoreKind ScoreKind => score.Kind;

    /// <summary>Seed of the sampling scores' noise table (the training seed).</summary>
    public int ScoringSeed => score.Seed;

    /// <summary>
    /// The scores of the rows the detector was trained on, sorted ascending: all of them up to
    /// <see cref="MaxKeptScores"/> rows, a seeded uniform sample of that many beyond. Rows without a score (NaN or ∞
    /// features, let through by <see cref="VaeTrainingOptions.SkipNonFiniteRows"/>) are not in it, nor in <see cref="CalibrationScores"/>.
    /// </summary>
    public IReadOnlyList<float> TrainingScores => trainingScores;

    /// <summary>
    /// The scores <see cref="WithContamination"/> takes its quantile of, sorted ascending: those of the rows held out of
    /// training (<see cref="VaeAnomalyOptions.CalibrationFraction"/>), or the training rows' when none were. Up to
    /// <see cref="MaxKeptScores"/> rows every score; beyond that a seeded uniform sample of that many (reservoir sampling).
    /// </summary>
    /// <remarks>
    /// Why a sample and not every score: these lists are saved with the model, and ten million rows would add 40 MB to it
    /// for a quantile that a quarter-million-score sample already pins down to about ±0.0006 in rank at a contamination of
    /// 0.1 (the binomial standard error √(p(1 − p)/n)); the threshold of a smaller data set is exact, as before.
    /// </remarks>
    public IReadOnlyList<float> CalibrationScores => calibrationScores;

    /// <summary>Most scores <see cref="TrainingScores"/> and <see cref="CalibrationScores"/> keep (2^18; 1 MiB each).</summary>
    public const int MaxKeptScores = 1 << 18;

    /// <summary>The options used, with the sizes and epoch count that were chosen filled in (progress and cancellation are not kept).</summary>
    public VaeAnomalyOptions Options => options.Clone();

    /// <summary>Always <see langword="true"/>: every output row depends only on the same input row.</summary>
    public bool IsRowToRowMapper => true;

    /// <summary>
    /// The rows of <paramref name="trainingData"/> (the view this detector was fitted on) that <c>Fit</c> held out of
    /// training to set the threshold on (<see cref="VaeAnomalyOptions.CalibrationFraction"/>): the same seeded split, as
    /// a streaming view. With a calibration fraction of 0 it is <paramref name="trainingData"/> itself (the threshold came
    /// from the training rows). Use it to evaluate the threshold on rows the model has not seen.
    /// </summary>
    public IDataView CalibrationRows(IDataView trainingData)
    {
        ArgumentNullException.ThrowIfNull(trainingData);
        return options.CalibrationFraction > 0 && options.Seed is { } seed
            ? Data.RowSubset.Split(trainingData, options.CalibrationFraction, seed).HeldOut
            : trainingData;
    }

    /// <summary>A detector with the same trained model and an explicit threshold.</summary>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="threshold"/> is NaN or infinite.</exception>
    public VaeAnomalyTransformer WithThreshold(float threshold)
    {
        if (!float.IsFinite(threshold))
            throw new ArgumentOutOfRangeException(nameof(threshold), threshold, $"The threshold is {threshold}; it must be a finite value.");
        return With(threshold, VaeAnomalyThresholdSource.Explicit, null, null);
    }

    /// <summary>
    /// A detector with the same trained model whose threshold is the (1 − <paramref name="contamination"/>) quantile of
    /// <see cref="CalibrationScores"/> (the empirical quantile: at most contamination · n of those rows score above it).
    /// </summary>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="contamination"/> is outside (0, 0.5], or below the share
    /// of those rows that score +∞ (no finite threshold then exists).</exception>
    public VaeAnomalyTransformer WithContamination(double contamination)
    {
        VaeAnomalyOptions.RequireContamination(contamination, nameof(contamination));
        float threshold = UpperQuantileThreshold(calibrationScores, contamination);
        if (!float.IsFinite(threshold))
        {
            int infinite = calibrationScores.Count(float.IsPositiveInfinity);
            double needed = (double)infinite / calibrationScores.Length;
            string remedy = needed <= VaeAnomalyOptions.MaxContamination
                ? $"Use a contamination of at least {needed:G3}, or set a threshold with WithThreshold."
                : $"No contamination up to {VaeAnomalyOptions.MaxContamination} can reach it: set a threshold with WithThreshold, or check those rows' values.";
            throw new ArgumentOutOfRangeException(nameof(contamination), contamination,
                $"{infinite} of the {calibrationScores.Length} calibration scores are +∞ (rows so far out that their score overflows float32), " +
                $"more than a contamination of {contamination:G3} allows, so no finite threshold exists. {remedy}");
        }
        return With(threshold, VaeAnomalyThresholdSource.Contamination, contamination, null);
    }

    /// <summary>
    /// A detector with the same trained model whose threshold flags at most <paramref name="falsePositiveRate"/> of the
    /// normal rows of <paramref name="labelled"/> — the lowest such threshold, so as many anomalies as possible are caught
    /// at that false-positive rate. The rows are scored with this model; only the normal rows' scores set the threshold.
    /// Normal rows with equal scores (duplicate rows) are flagged together or not at all, so with ties at the threshold
    /// the rate reached can be below the target by more than one row. Rows with NaN or ∞ features score NaN and are never
    /// flagged, so the rate is that of the normal rows that have a score.
    /// </summary>
    /// <param name="labelled">Data with the feature column and a label column.</param>
    /// <param name="falsePositiveRate">Target fraction of normal rows flagged, in [0, 1).</param>
    /// <param name="labelColumnName">Label column: Boolean (true = anomaly) or Single/Double (&gt; 0 = anomaly, as ML.NET's anomaly evaluator reads it); rows with a NaN label are skipped.</param>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="falsePositiveRate"/> is outside [0, 1), or the label column is missing or of another type.</exception>
    /// <exception cref="ArgumentException">The labelled data has no normal row with a score, or more of its normal rows
    /// score +∞ than the rate allows (no finite threshold reaches it).</exception>
    public VaeAnomalyTransformer WithThresholdForFalsePositiveRate(IDataView labelled, double falsePositiveRate, string labelColumnName = "Label")
    {
        ArgumentNullException.ThrowIfNull(labelled);
        ArgumentException.ThrowIfNullOrWhiteSpace(labelColumnName);
        if (!(falsePositiveRate >= 0 && falsePositiveRate < 1))
            throw new ArgumentOutOfRangeException(nameof(falsePositiveRate), falsePositiveRate,
                $"The false-positive rate is {falsePositiveRate}; it must be in [0, 1).");
        var label = labelled.Schema.GetColumnOrNull(labelColumnName);
        if (label is null || label.Value.IsHidden)
            throw new ArgumentOutOfRangeException(nameof(labelColumnName), labelColumnName,
                $"Label column '{labelColumnName}' was not found. Available columns: {string.Join(", ", labelled.Schema.Where(c => !c.IsHidden).Select(c => $"'{c.Name}'"))}.");
        var labelType = label.Value.Type;
        if (labelType != BooleanDataViewType.Instance && labelType != NumberDataViewType.Single && labelType != NumberDataViewType.Double)
            throw new ArgumentOutOfRangeException(nameof(labelColumnName), labelColumnName,
                $"Label column '{labelColumnName}' has type {labelType}; it must be Boolean (true = anomaly) or Single/Double (> 0 = anomaly).");

        var normalScores = new List<float>();
        int normalRows = 0; // with or without a score
        var scored = Transform(labelled);
        var scoreColumn = scored.Schema[options.ScoreColumnName];
        var labelColumn = scored.Schema[label.Value.Index];
        using (var cursor = scored.GetRowCursor(new[] { scoreColumn, labelColumn }))
        {
            var scoreGetter = cursor.GetGetter<float>(scoreColumn);
            Func<bool?> isAnomaly = LabelReader(cursor, labelColumn);
            float score = 0;
            while (cursor.MoveNext())
            {
                if (isAnomaly() != false)
                    continue;
                normalRows++;
                scoreGetter(ref score);
                if (!float.IsNaN(score))
                    normalScores.Add(score); // a NaN score is never flagged: it cannot be a false positive
            }
        }
        if (normalRows == 0)
            throw new ArgumentException(
                $"The labelled data has no normal row (label false or 0 in '{labelColumnName}'); a false-positive rate needs normal rows.", nameof(labelled));
        if (normalScores.Count == 0)
            throw new ArgumentException(
                $"All {normalRows} normal rows of the labelled data score NaN (NaN or ∞ in column '{options.FeatureColumnName}'), so they cannot set a threshold. " +
                "Replace the missing values (ml.Transforms.ReplaceMissingValues) or filter those rows (ml.Data.FilterRowsByMissingValues) first.", nameof(labelled));

        var sorted = normalScores.ToArray();
        Array.Sort(sorted);
        // The 1e-9 absorbs rounding (0.1 · 30 is 2.9999…); the cap keeps a rate just below 1 from reaching past the array.
        int allowed = Math.Min(sorted.Length - 1, (int)Math.Floor(falsePositiveRate * sorted.Length + 1e-9));
        float threshold = sorted[sorted.Length - 1 - allowed];
        if (!float.IsFinite(threshold))
        {
            int infinite = sorted.Count(float.IsPositiveInfinity);
            string remedy = infinite < sorted.Length
                ? $"Use a rate of at least {(double)infinite / sorted.Length:G3}, or check those rows' labels and values."
                : "No rate below 1 can reach it: check those rows' labels and values, or set a threshold with WithThreshold.";
            throw new ArgumentException(
                $"{infinite} of the {sorted.Length} normal rows of the labelled data score +∞ (features so far out that the score overflows float32), " +
                $"more than a false-positive rate of {falsePositiveRate:G3} allows, so no finite threshold reaches it. {remedy}", nameof(labelled));
        }
        return With(threshold, VaeAnomalyThresholdSource.FalsePositiveRate, null, falsePositiveRate);
    }

    /// <summary>
    /// The schema <see cref="Transform"/> produces: the input's columns, unchanged, then the score (Single), the predicted
    /// label (Boolean) and, when <see cref="VaeAnomalyOptions.PerFeatureErrorColumnName"/> is set, the per-feature errors.
    /// </summary>
    /// <exception cref="ArgumentOutOfRangeException">The feature column is missing, not a vector of Single, or not of the trained size.</exception>
    public DataViewSchema GetOutputSchema(DataViewSchema inputSchema) => Plan(inputSchema).OutputSchema;

    /// <summary>
    /// Adds the score and predicted label (and per-feature error) columns, lazily and a block of rows at a time. A row with
    /// NaN or ∞ in its features gets a NaN score and is not flagged.
    /// </summary>
    public IDataView Transform(IDataView input)
    {
        ArgumentNullException.ThrowIfNull(input);
        return TransformWithBlockSize(input, BlockScoring.BlockRowsFor(Vae.InputDim));
    }

    /// <summary>Transform with a given block size (tests show that scores do not depend on it).</summary>
    internal IDataView TransformWithBlockSize(IDataView input, int blockSize) =>
        new BlockScoredDataView<AnomalyBlockScoring.Block>(input, CreateBlockScoring(input.Schema), blockSize);

    /// <summary>A row-at-a-time mapper, used by <c>PredictionEngine</c>.</summary>
    public IRowToRowMapper GetRowToRowMapper(DataViewSchema inputSchema) =>
        new BlockRowMapper<AnomalyBlockScoring.Block>(CreateBlockScoring(inputSchema));

    /// <summary>
    /// Called by <c>mlContext.Model.Save</c>. As for the VAE, the detector is written as an equivalent chain of ML.NET's
    /// own transformers: one ONNX graph computes the score (with the detector's noise table for the sampling scores)
    /// and the per-feature errors, an <c>Expression</c> compares the score with the threshold
    /// (<see cref="Persistence.AnomalyModelChain"/>). <c>mlContext.Model.Load</c> (after <c>RegisterVaeComponents</c>)
    /// returns that chain: it scores one row per ONNX Runtime call, and its scores equal this detector's within float32
    /// rounding (so a row whose score lies within that rounding of the threshold can be labelled differently).
    /// </summary>
    void ICanSaveModel.Save(ModelSaveContext ctx)
    {
        var (gpuDeviceId, fallbackToCpu) = HostEnvironmentAccess.DeviceSettings(environment);
        using var chain = AnomalyModelChain.Build(this, gpuDeviceId, fallbackToCpu);
        ((ICanSaveModel)chain).Save(ctx);
    }

    /// <summary>
    /// Releases the ONNX Runtime sessions of the shared <see cref="Vae"/> (native memory). Every transformer that shares
    /// it stays usable: the sessions are created again on the next use.
    /// </summary>
    public void Dispose()
    {
        scorers.Retire();
        Vae.Dispose();
    }

    private VaeAnomalyTransformer With(float threshold, VaeAnomalyThresholdSource source, double? contamination, double? falsePositiveRate)
    {
        var copy = options.Clone();
        copy.Threshold = source == VaeAnomalyThresholdSource.Explicit ? threshold : null;
        if (contamination is { } c)
            copy.Contamination = c;
        return new VaeAnomalyTransformer(environment, copy, Vae, new CalibrationScores(trainingScores, calibrationScores), score.Seed,
            new AnomalyThreshold(threshold, source, contamination, falsePositiveRate), scorers);
    }

    private AnomalyScoringPlan Plan(DataViewSchema inputSchema)
    {
        ArgumentNullException.ThrowIfNull(inputSchema);
        return new AnomalyScoringPlan(inputSchema, AnomalyColumnNames.From(options), Vae.InputDim);
    }

    private AnomalyBlockScoring CreateBlockScoring(DataViewSchema inputSchema) => new(Plan(inputSchema), scorers.Lease, Threshold);

    /// <summary>What fixes the score (the saved row graph is built from it).</summary>
    internal AnomalyScoreDefinition ScoreDefinition => score;

    /// <summary>The score sessions, shared with the detectors derived from this one.</summary>
    internal ScorerSlot<AnomalyOnnxScorer> Scorers => scorers;

    /// <summary>
    /// The empirical (1 − <paramref name="fraction"/>) quantile of <paramref name="sortedAscending"/>: the smallest value
    /// with at least (1 − fraction) · n values at or below it, so at most fraction · n values lie above it.
    /// </summary>
    internal static float UpperQuantileThreshold(float[] sortedAscending, double fraction)
    {
        if (sortedAscending.Length == 0)
            throw new InvalidOperationException("There are no training scores to take a quantile of.");
        int above = (int)Math.Floor(fraction * sortedAscending.Length + 1e-9);
        return sortedAscending[Math.Max(0, sortedAscending.Length - 1 - above)];
    }

    private static Func<bool?> LabelReader(DataViewRowCursor cursor, DataViewSchema.Column column)
    {
        if (column.Type == BooleanDataViewType.Instance)
        {
            var getter = cursor.GetGetter<bool>(column);
            bool value = false;
            return () => { getter(ref value); return value; };
        }
        if (column.Type == NumberDataViewType.Single)
        {
            var getter = cursor.GetGetter<float>(column);
            float value = 0;
            return () => { getter(ref value); return float.IsNaN(value) ? null : value > 0; };
        }
        var doubleGetter = cursor.GetGetter<double>(column);
        double number = 0;
        return () => { doubleGetter(ref number); return double.IsNaN(number) ? null : number > 0; };
    }
}
