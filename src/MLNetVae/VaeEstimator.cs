using Microsoft.ML;
using Microsoft.ML.Runtime;
using MLNetVae.Data;
using MLNetVae.MLNet;
using MLNetVae.Scoring;
using MLNetVae.Training;

namespace MLNetVae;

/// <summary>
/// Trains a variational autoencoder on a vector column with TorchSharp and returns a <see cref="VaeTransformer"/>
/// that adds the latent mean, log-variance, reconstruction and reconstruction error to every row.
/// Create it with <c>mlContext.Transforms.VariationalAutoencoder(...)</c>.
/// </summary>
public sealed class VaeEstimator : IEstimator<VaeTransformer>
{
    private readonly IHostEnvironment environment;
    private readonly VaeOptions options;

    /// <summary>Creates the estimator for <paramref name="mlContext"/> (seed, log and GPU settings come from it).</summary>
    /// <exception cref="ArgumentOutOfRangeException">An option is out of range (the message names it).</exception>
    public VaeEstimator(MLContext mlContext, VaeOptions options)
        : this((IHostEnvironment)(mlContext ?? throw new ArgumentNullException(nameof(mlContext))), options)
    {
    }

    internal VaeEstimator(IHostEnvironment environment, VaeOptions options)
    {
        ArgumentNullException.ThrowIfNull(options);
        this.environment = environment;
        this.options = options.Clone();
        this.options.Validate();
    }

    /// <summary>A copy of the options this estimator trains with.</summary>
    public VaeOptions Options => options.Clone();

    /// <summary>
    /// Trains the VAE on every row of <paramref name="input"/>: on one float32 copy of the input column when it takes at
    /// most <see cref="VaeTrainingOptions.MaxInMemoryTrainingBytes"/>, otherwise streamed, reading <paramref name="input"/>
    /// again in every epoch through a shuffle buffer of that size (<see cref="VaeTrainingReport.ShuffleBufferRows"/>).
    /// </summary>
    /// <exception cref="ArgumentOutOfRangeException">The input column is missing or is not a known-size vector of Single.</exception>
    /// <exception cref="ArgumentException">The data has no rows, holds NaN/∞ (the message names the row; see
    /// <see cref="VaeTrainingOptions.SkipNonFiniteRows"/>), or, with standardization, values so far apart that the float32
    /// reconstruction error would overflow.</exception>
    /// <exception cref="VaeTrainingDivergedException">The loss became non-finite.</exception>
    /// <exception cref="VaeTrainingCancelledException"><see cref="VaeTrainingOptions.CancellationToken"/> was cancelled (an
    /// <see cref="OperationCanceledException"/> that carries the best model of the epochs completed so far).</exception>
    /// <exception cref="InvalidOperationException">A GPU was requested, none is usable and <c>MLContext.FallbackToCpu</c> is false.</exception>
    public VaeTransformer Fit(IDataView input)
    {
        ArgumentNullException.ThrowIfNull(input);
        OnnxRuntimeSessions.EnsureEnvironment(); // one shared ONNX Runtime pool, also when the model is saved before it scores
        var host = environment.Register(nameof(VaeEstimator));
        using var channel = host.Start("Training");
        void Log(string message) => channel.Info(MessageSensitivity.None, message);

        // Everything that can be checked from the schema, before any data is read or any device is touched.
        var inputColumn = InputColumn.Require(input.Schema, options.InputColumnName);
        options.ValidateForInput(((Microsoft.ML.Data.VectorDataViewType)inputColumn.Type).Size);

        var (gpuDeviceId, fallbackToCpu) = HostEnvironmentAccess.DeviceSettings(environment);
        var device = TorchDevices.Select(gpuDeviceId, fallbackToCpu, m => channel.Warning(MessageSensitivity.None, m));
        int seed = options.Seed ?? host.Rand.Next();

        VaeTrainer.Result result;
        Action<VaeTrainingReport>? describeRows = null; // what the rows source adds to a report, finished or cancelled
        try
        {
            long budget = options.ResolvedMaxInMemoryTrainingBytes();
            var data = FeatureMatrix.TryRead(input, options.InputColumnName, budget, options.CancellationToken, options.SkipNonFiniteRows);
            if (data is not null)
            {
                WarnIfSkipped(data.SkippedRows.Count, data.Rows + data.SkippedRows.Count, data.SkippedRows, channel);
                if (options.Standardize)
                    FeatureRange.RequireRepresentableErrors(data, options.InputColumnName);
                Log($"Training a VAE {data.Columns}/{options.HiddenDim}/{options.LatentDim} on {data.Rows} rows ({device}, seed {seed}).");
                describeRows = report => report.SkippedNonFiniteRows = data.SkippedRows.Count;
                result = new VaeTrainer(options, seed, device, Log).Train(data);
                describeRows(result.Report);
            }
            else
            {
                // The column would not fit the budget (what was read so far is dropped): stream it instead.
                GC.Collect();
                var rows = new StreamingTrainingRows(input, options, options.InputColumnName, seed, budget, options.CancellationToken);
                WarnIfSkipped(rows.SkippedRows, rows.TrainCount + rows.ValidationCount + rows.SkippedRows, rows.FirstSkippedRows, channel);
                Log($"Training a VAE {rows.Columns}/{options.HiddenDim}/{options.LatentDim} on {rows.TrainCount} rows, streamed: column " +
                    $"'{options.InputColumnName}' takes more than MaxInMemoryTrainingBytes ({budget:N0} bytes); shuffle buffer of " +
                    $"{rows.ShuffleBufferRows} rows, {rows.ValidationCount} validation rows ({device}, seed {seed}).");
                describeRows = report =>
                {
                    report.SkippedNonFiniteRows = (int)Math.Min(int.MaxValue, rows.SkippedRows);
                    report.ShuffleBufferRows = rows.ShuffleBufferRows;
                };
                result = new VaeTrainer(options, seed, device, Log).Train(rows);
                describeRows(result.Report);
            }
        }
        catch (OperationCanceledException e) when (options.CancellationToken.IsCancellationRequested)
        {
            var partial = (e as VaeTrainer.CancelledException)?.Partial;
            if (partial is not null)
                describeRows?.Invoke(partial.Report); // the rows skipped and the shuffle buffer, as a finished run reports them
            var message = partial is null
                ? "VAE training was cancelled before its first epoch completed; there is no model."
                : $"VAE training was cancelled after {partial.Report.Epochs.Count} completed epoch(s); BestModelSoFar holds the weights of epoch {partial.Report.BestEpoch}.";
            Log(message);
            throw new VaeTrainingCancelledException(message,
                partial is null ? null : new VaeTransformer(environment, options, partial.Weights, partial.Report),
                options.CancellationToken, e);
        }
        Log($"Training finished: {result.Report.StopReason}; keeping epoch {result.Report.BestEpoch}.");
        WarnIfLatentSpaceCollapsed(result.Report, options, m => channel.Warning(MessageSensitivity.None, m), Log);
        return new VaeTransformer(environment, options, result.Weights, result.Report);
    }

    private void WarnIfSkipped(long skipped, long total, IEnumerable<long> first, IChannel channel)
    {
        if (skipped > 0)
            channel.Warning(MessageSensitivity.None,
                $"Skipped {skipped} of {total} rows whose column '{options.InputColumnName}' holds NaN or ∞ " +
                $"(VaeOptions.SkipNonFiniteRows); first: row {string.Join(", ", first.Take(5))}.");
    }

    /// <summary>Fraction of active latent dimensions below which <c>Fit</c> warns that the latent space collapsed.</summary>
    internal const double CollapseWarningFraction = 0.1;

    internal static void WarnIfLatentSpaceCollapsed(VaeTrainingReport report, VaeOptions options, Action<string> warn, Action<string> info)
    {
        int latent = report.KlPerDimension.Count;
        if (latent == 0)
            return;
        string summary = $"{report.ActiveLatentDimensions} of {latent} latent dimensions are active (variance of the latent mean over " +
                         $"the training rows > {VaeOptions.Defaults.ActiveLatentVarianceThreshold}); mean KL per row {report.KlPerDimension.Sum():G4}.";
        if (report.ActiveLatentDimensions < CollapseWarningFraction * latent)
            warn($"Posterior collapse: only {summary} The other dimensions carry no information (Mu is constant in them). " +
                 $"Lower Beta (now {options.Beta}), set KlWarmupEpochs (now {options.KlWarmupEpochs}) or use a smaller LatentDim (now {options.LatentDim}).");
        else
            info(summary);
    }

    /// <summary>The input schema plus the four output columns; throws if the input column is missing or of the wrong type.</summary>
    public SchemaShape GetOutputSchema(SchemaShape inputSchema)
    {
        ArgumentNullException.ThrowIfNull(inputSchema);
        return SchemaShapes.VaeOutput(inputSchema, options);
    }
}
