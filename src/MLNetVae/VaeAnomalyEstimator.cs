using Microsoft.ML;
using Microsoft.ML.Data;
using Microsoft.ML.Runtime;
using MLNetVae.AnomalyDetection;
using MLNetVae.Data;
using MLNetVae.Scoring;

namespace MLNetVae;

/// <summary>
/// Unsupervised anomaly detection with a variational autoencoder: trains a <see cref="VaeTransformer"/> on the feature
/// column of every training row (labels are not read; the rows may contain anomalies), scores the training rows and sets
/// the threshold, and returns a <see cref="VaeAnomalyTransformer"/> that adds a score and a predicted label.
/// Create it with <c>mlContext.AnomalyDetection.Trainers.VariationalAutoencoder(...)</c>.
/// </summary>
public sealed class VaeAnomalyEstimator : IEstimator<VaeAnomalyTransformer>
{
    private readonly IHostEnvironment environment;
    private readonly VaeAnomalyOptions options;

    /// <summary>Creates the estimator for <paramref name="mlContext"/> (seed, log and GPU settings come from it).</summary>
    /// <exception cref="ArgumentOutOfRangeException">An option is out of range (the message names it and its value).</exception>
    public VaeAnomalyEstimator(MLContext mlContext, VaeAnomalyOptions options)
        : this((IHostEnvironment)(mlContext ?? throw new ArgumentNullException(nameof(mlContext))), options)
    {
    }

    internal VaeAnomalyEstimator(IHostEnvironment environment, VaeAnomalyOptions options)
    {
        ArgumentNullException.ThrowIfNull(options);
        this.environment = environment;
        this.options = options.Clone();
        this.options.Validate();
    }

    /// <summary>A copy of the options this estimator trains with.</summary>
    public VaeAnomalyOptions Options => options.Clone();

    /// <summary>
    /// Trains the VAE on the rows of <paramref name="input"/> (all of them, or those not held out by
    /// <see cref="VaeAnomalyOptions.CalibrationFraction"/>), scores the rows and sets the threshold from the calibration
    /// rows' scores (or takes <see cref="VaeAnomalyOptions.Threshold"/>).
    /// </summary>
    /// <exception cref="ArgumentOutOfRangeException">The feature column is missing or is not a known-size vector of Single.</exception>
    /// <exception cref="ArgumentException">The data has no rows or holds NaN/∞ (the message names the row), or
    /// <see cref="VaeAnomalyOptions.CalibrationFraction"/> leaves too few rows on either side (or, with
    /// <see cref="VaeTrainingOptions.SkipNonFiniteRows"/>, too few held-out rows with a score for the contamination threshold).</exception>
    /// <exception cref="VaeTrainingDivergedException">The loss became non-finite or ran away, or the trained model scores more than
    /// <see cref="VaeAnomalyOptions.Contamination"/> of the calibration rows as +∞ (no finite threshold exists).</exception>
    /// <exception cref="VaeTrainingCancelledException"><see cref="VaeTrainingOptions.CancellationToken"/> was cancelled during
    /// training; <see cref="VaeTrainingCancelledException.BestDetectorSoFar"/> is the detector of the epochs completed so
    /// far (or null before the first). Cancelled while the rows are counted or scored: an <see cref="OperationCanceledException"/>.</exception>
    public VaeAnomalyTransformer Fit(IDataView input)
    {
        ArgumentNullException.ThrowIfNull(input);
        OnnxRuntimeSessions.EnsureEnvironment(); // one shared ONNX Runtime pool, also when the model is saved before it scores
        var host = environment.Register(nameof(VaeAnomalyEstimator));
        using var channel = host.Start("Training");
        void Log(string message) => channel.Info(MessageSensitivity.None, message);

        var column = InputColumn.Require(input.Schema, options.FeatureColumnName, option: InputColumn.DetectorOption);
        int inputDim = ((VectorDataViewType)column.Type).Size;
        int seed = options.Seed ?? host.Rand.Next();
        // Counted through a cursor, not taken from GetRowCount(): a source may report a count it does not deliver.
        var (rows, calibrationRows) = CountRows(input, options.CalibrationFraction, seed, options.CancellationToken);

        // The rows that train the model and the rows the threshold quantile comes from (the same rows unless some are held out).
        IDataView training = input, calibration = input;
        if (rows == 0)
            throw InputColumn.NoTrainingRows(options.FeatureColumnName, skippedNonFinite: 0);
        if (options.CalibrationFraction > 0)
        {
            if (calibrationRows < VaeAnomalyOptions.Defaults.MinimumCalibrationRows || rows - calibrationRows < VaeAnomalyOptions.Defaults.MinimumCalibrationRows)
                throw new ArgumentException(
                    $"VaeAnomalyOptions.CalibrationFraction {options.CalibrationFraction} holds out {calibrationRows} of the {rows} rows in column " +
                    $"'{options.FeatureColumnName}' and leaves {rows - calibrationRows} to train on; each side needs at least " +
                    $"{VaeAnomalyOptions.Defaults.MinimumCalibrationRows}. Use more rows, another CalibrationFraction, or 0 to set the threshold on the training rows.");
            (training, calibration) = RowSubset.Split(input, options.CalibrationFraction, seed);
        }
        var vaeOptions = options.ToVaeOptions(inputDim, rows - calibrationRows);
        vaeOptions.Seed = seed;

        var resolved = options.Clone();
        resolved.HiddenDim = vaeOptions.HiddenDim;
        resolved.LatentDim = vaeOptions.LatentDim;
        resolved.Epochs = vaeOptions.Epochs;
        resolved.Seed = seed;
        Log($"VAE anomaly detector: {inputDim} features, hidden {vaeOptions.HiddenDim}{(options.HiddenDim is null ? " (chosen)" : "")}, " +
            $"latent {vaeOptions.LatentDim}{(options.LatentDim is null ? " (chosen)" : "")}, up to {vaeOptions.Epochs} epochs" +
            $"{(options.Epochs is null ? " (chosen)" : "")} on {rows - calibrationRows} rows" +
            (calibrationRows > 0 ? $" ({calibrationRows} more held out for the threshold)" : "") + $", score {options.ScoreKind}.");

        VaeTransformer vae;
        try
        {
            vae = new VaeEstimator(environment, vaeOptions).Fit(training);
        }
        catch (VaeTrainingCancelledException cancelled) when (cancelled.BestModelSoFar is { } best)
        {
            // The epochs already trained make a usable detector: finish it (scores and threshold, not cancellable) and
            // hand it over with the cancellation, as VaeEstimator hands over its best model.
            var detector = Finish(best, training, calibration, calibrationRows, resolved, seed, Log, CancellationToken.None);
            throw new VaeTrainingCancelledException(
                cancelled.Message + " BestDetectorSoFar is the detector built on it.", best, cancelled.CancellationToken, cancelled, detector);
        }
        return Finish(vae, training, calibration, calibrationRows, resolved, seed, Log, options.CancellationToken);
    }

    /// <summary>Scores the training (and calibration) rows with <paramref name="vae"/> and sets the threshold.</summary>
    private VaeAnomalyTransformer Finish(VaeTransformer vae, IDataView training, IDataView calibration, long calibrationRows,
        VaeAnomalyOptions resolved, int seed, Action<string> Log, CancellationToken cancellationToken)
    {
        try
        {
            var unthresholded = new VaeAnomalyTransformer(environment, resolved, vae, CalibrationScores.Empty, seed, AnomalyThreshold.None);
            var trainingScores = ReadScores(unthresholded.Transform(training), options.ScoreColumnName, seed, cancellationToken);
            Array.Sort(trainingScores);
            var calibrationScores = trainingScores;
            if (calibrationRows > 0)
            {
                calibrationScores = ReadScores(unthresholded.Transform(calibration), options.ScoreColumnName, seed, cancellationToken);
                Array.Sort(calibrationScores);
            }
            string rowsName = calibrationRows > 0 ? "held-out" : "training";
            if (calibrationScores.Length == 0)
                throw new InvalidOperationException(
                    $"Every {rowsName} row has NaN or ∞ in column '{options.FeatureColumnName}' (SkipNonFiniteRows left them out), so there is no score to set the threshold on. " +
                    "Replace the missing values (ml.Transforms.ReplaceMissingValues) or filter those rows (ml.Data.FilterRowsByMissingValues) before Fit.");
            // The row count checked before training included rows that SkipNonFiniteRows leaves out; the quantile needs
            // the minimum in scores, not in rows.
            if (calibrationRows > 0 && options.Threshold is null && calibrationScores.Length < VaeAnomalyOptions.Defaults.MinimumCalibrationRows)
                throw new ArgumentException(
                    $"Only {calibrationScores.Length} of the {calibrationRows} held-out rows have a score: the others hold NaN or ∞ in column " +
                    $"'{options.FeatureColumnName}' (SkipNonFiniteRows left them out), and the threshold needs at least " +
                    $"{VaeAnomalyOptions.Defaults.MinimumCalibrationRows}. Replace the missing values (ml.Transforms.ReplaceMissingValues), " +
                    "use a larger CalibrationFraction, or 0 to set the threshold on the training rows.");
            var kept = new CalibrationScores(trainingScores, calibrationScores);

            VaeAnomalyTransformer result;
            if (options.Threshold is { } threshold)
            {
                result = new VaeAnomalyTransformer(environment, resolved, vae, kept, seed,
                    AnomalyThreshold.Explicit(threshold), unthresholded.Scorers);
                Log($"Threshold {threshold:G6} (explicit); it flags {calibrationScores.Count(s => s > threshold)} of {calibrationScores.Length} {rowsName} rows.");
            }
            else
            {
                float fromContamination = VaeAnomalyTransformer.UpperQuantileThreshold(calibrationScores, options.Contamination);
                RequireFiniteThreshold(fromContamination, calibrationScores, options.Contamination, rowsName);
                result = new VaeAnomalyTransformer(environment, resolved, vae, kept, seed,
                    new AnomalyThreshold(fromContamination, VaeAnomalyThresholdSource.Contamination, options.Contamination), unthresholded.Scorers);
                Log($"Threshold {fromContamination:G6}: the {1 - options.Contamination:0.###} quantile of {calibrationScores.Length} {rowsName} scores " +
                    $"(flags {calibrationScores.Count(s => s > fromContamination)}; {trainingScores.Count(s => s > fromContamination)} of {trainingScores.Length} training rows).");
            }
            return result;
        }
        catch
        {
            vae.Dispose();
            throw;
        }
    }

    /// <summary>The input schema plus the score, predicted label and (optional) per-feature error columns; throws if the feature column is missing or of the wrong type.</summary>
    public SchemaShape GetOutputSchema(SchemaShape inputSchema)
    {
        ArgumentNullException.ThrowIfNull(inputSchema);
        return AnomalySchemaShapes.Output(inputSchema, options);
    }

    /// <summary>Rows of <paramref name="data"/>, and how many of them <see cref="RowSubset"/> holds out, in one cursor pass.</summary>
    private static (long Rows, long HeldOut) CountRows(IDataView data, double heldOutFraction, int seed, CancellationToken cancellationToken)
    {
        long count = 0, heldOut = 0;
        using var cursor = data.GetRowCursor(Array.Empty<DataViewSchema.Column>());
        while (cursor.MoveNext())
        {
            if ((count & 4095) == 0)
                cancellationToken.ThrowIfCancellationRequested();
            if (heldOutFraction > 0 && RowSubset.IsHeldOut(cursor.Position, heldOutFraction, seed))
                heldOut++;
            count++;
        }
        return (count, heldOut);
    }

    /// <summary>
    /// A threshold that is not a finite number means the model scores more than <paramref name="contamination"/> of its own
    /// rows as +∞ (float32 overflow): such a detector flags everything or nothing, so Fit refuses to return it.
    /// </summary>
    private void RequireFiniteThreshold(float threshold, float[] sortedScores, double contamination, string rowsName)
    {
        if (float.IsFinite(threshold))
            return;
        int infinite = sortedScores.Count(float.IsPositiveInfinity);
        bool standardize = options.Standardize;
        throw new VaeTrainingDivergedException(0, 0, double.PositiveInfinity, standardize ? nameof(VaeAnomalyOptions.LearningRate) : nameof(VaeAnomalyOptions.Standardize),
            $"The trained detector scores {infinite} of its {sortedScores.Length} {rowsName} rows as +∞ (the score overflows float32), more than " +
            $"Contamination ({contamination:G3}) allows, so no finite threshold exists and no detector was returned. " +
            (standardize
                ? $"The model most likely diverged: lower the LearningRate (now {options.LearningRate:G4}) or Beta (now {options.Beta:G4}), or look for extreme values in column '{options.FeatureColumnName}'."
                : $"Set Standardize = true (now false): features of very different scales overflow the score, or lower the LearningRate (now {options.LearningRate:G4})."));
    }

    /// <summary>
    /// Every score of <paramref name="scored"/>, or, past <see cref="VaeAnomalyTransformer.MaxKeptScores"/> rows, a uniform
    /// sample of that many (reservoir sampling seeded by the training seed): memory and the saved model stay bounded
    /// however many rows were scored (see <see cref="VaeAnomalyTransformer.CalibrationScores"/>). NaN scores (rows with
    /// NaN or ∞ features, which <see cref="VaeTrainingOptions.SkipNonFiniteRows"/> lets through) are left out.
    /// </summary>
    internal static float[] ReadScores(IDataView scored, string scoreColumnName, int seed, CancellationToken cancellationToken,
        int maxKept = VaeAnomalyTransformer.MaxKeptScores)
    {
        var column = scored.Schema[scoreColumnName];
        // The reported count only sizes the first allocation (bounded: a source may over-report).
        var scores = new List<float>((int)Math.Clamp(scored.GetRowCount() ?? 1024, 0, maxKept));
        var random = new Random(seed);
        using var cursor = scored.GetRowCursor(new[] { column });
        var getter = cursor.GetGetter<float>(column);
        float value = 0;
        long seen = 0;
        while (cursor.MoveNext())
        {
            if ((seen & 4095) == 0)
                cancellationToken.ThrowIfCancellationRequested();
            getter(ref value);
            if (float.IsNaN(value))
                continue; // a row left out for NaN/∞ features (SkipNonFiniteRows) has no score and no place in a quantile
            seen++;
            if (scores.Count < maxKept)
                scores.Add(value);
            else if (random.NextInt64(seen) is var slot && slot < maxKept)
                scores[(int)slot] = value; // Algorithm R: the row replaces a kept one with probability maxKept / seen
        }
        return scores.ToArray();
    }
}
