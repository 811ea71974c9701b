using Microsoft.ML;
using Microsoft.ML.Data;
using Microsoft.ML.Runtime;
using MLNetVae.AnomalyDetection;
using MLNetVae.Data;
using MLNetVae.MLNet;

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
    /// Trains the VAE on every row of <paramref name="input"/>, scores those rows and sets the threshold from them
    /// (or takes <see cref="VaeAnomalyOptions.Threshold"/>).
    /// </summary>
    /// <exception cref="ArgumentOutOfRangeException">The feature column is missing or is not a known-size vector of Single.</exception>
    /// <exception cref="ArgumentException">The data has no rows or holds NaN/∞ (the message names the row).</exception>
    /// <exception cref="VaeTrainingDivergedException">The loss became non-finite.</exception>
    /// <exception cref="OperationCanceledException"><see cref="VaeAnomalyOptions.CancellationToken"/> was cancelled.</exception>
    public VaeAnomalyTransformer Fit(IDataView input)
    {
        ArgumentNullException.ThrowIfNull(input);
        var host = environment.Register(nameof(VaeAnomalyEstimator));
        using var channel = host.Start("Training");
        void Log(string message) => channel.Info(MessageSensitivity.None, message);

        var column = InputColumn.Require(input.Schema, options.FeatureColumnName);
        int inputDim = ((VectorDataViewType)column.Type).Size;
        long rows = input.GetRowCount() ?? CountRows(input);
        var vaeOptions = options.ToVaeOptions(inputDim, rows);
        vaeOptions.Seed = options.Seed ?? host.Rand.Next();
        int seed = vaeOptions.Seed.Value;

        var resolved = options.Clone();
        resolved.HiddenDim = vaeOptions.HiddenDim;
        resolved.LatentDim = vaeOptions.LatentDim;
        resolved.Epochs = vaeOptions.Epochs;
        resolved.Seed = seed;
        Log($"VAE anomaly detector: {inputDim} features, hidden {vaeOptions.HiddenDim}{(options.HiddenDim is null ? " (chosen)" : "")}, " +
            $"latent {vaeOptions.LatentDim}{(options.LatentDim is null ? " (chosen)" : "")}, up to {vaeOptions.Epochs} epochs" +
            $"{(options.Epochs is null ? " (chosen)" : "")} on {rows} rows, score {options.ScoreKind}.");

        var vae = new VaeEstimator(environment, vaeOptions).Fit(input);
        try
        {
            var unthresholded = new VaeAnomalyTransformer(environment, resolved, vae, Array.Empty<float>(), seed,
                float.PositiveInfinity, VaeAnomalyThresholdSource.Explicit, null, null);
            var scores = ReadScores(unthresholded.Transform(input), options.ScoreColumnName, options.CancellationToken);
            Array.Sort(scores);

            VaeAnomalyTransformer result;
            if (options.Threshold is { } threshold)
            {
                result = new VaeAnomalyTransformer(environment, resolved, vae, scores, seed, threshold,
                    VaeAnomalyThresholdSource.Explicit, null, null);
                Log($"Threshold {threshold:G6} (explicit); it flags {scores.Count(s => s > threshold)} of {scores.Length} training rows.");
            }
            else
            {
                float fromContamination = VaeAnomalyTransformer.UpperQuantileThreshold(scores, options.Contamination);
                result = new VaeAnomalyTransformer(environment, resolved, vae, scores, seed, fromContamination,
                    VaeAnomalyThresholdSource.Contamination, options.Contamination, null);
                Log($"Threshold {fromContamination:G6}: the {1 - options.Contamination:0.###} quantile of {scores.Length} training scores " +
                    $"(flags {scores.Count(s => s > fromContamination)}).");
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

    private static long CountRows(IDataView data)
    {
        long count = 0;
        using var cursor = data.GetRowCursor(Array.Empty<DataViewSchema.Column>());
        while (cursor.MoveNext())
            count++;
        return count;
    }

    private static float[] ReadScores(IDataView scored, string scoreColumnName, CancellationToken cancellationToken)
    {
        var column = scored.Schema[scoreColumnName];
        var scores = new List<float>((int)Math.Min(scored.GetRowCount() ?? 1024, int.MaxValue));
        using var cursor = scored.GetRowCursor(new[] { column });
        var getter = cursor.GetGetter<float>(column);
        float value = 0;
        while (cursor.MoveNext())
        {
            if ((scores.Count & 4095) == 0)
                cancellationToken.ThrowIfCancellationRequested();
            getter(ref value);
            scores.Add(value);
        }
        return scores.ToArray();
    }
}
