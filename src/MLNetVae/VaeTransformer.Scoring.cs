using Microsoft.ML;
using Microsoft.ML.Data;
using MLNetVae.MLNet;
using MLNetVae.Persistence;
using MLNetVae.Onnx;
using MLNetVae.Scoring;

namespace MLNetVae;

public sealed partial class VaeTransformer : ITransformer, IDisposable
{
    private ScorerSlot<VaeOnnxScorer>? scorers;
    private byte[]? encoderModel;
    private byte[]? decoderModel;

    /// <summary>The encoder as ONNX bytes (input <c>features</c> [N, in]; outputs <c>mu</c>, <c>logvar</c> [N, latent]).</summary>
    internal byte[] EncoderModel => encoderModel ??= VaeOnnxExporter.ExportEncoder(Weights, OnnxMetadata(), options.ScoringPrecision);

    /// <summary>The decoder as ONNX bytes (input <c>z</c> [N, latent]; output <c>reconstruction</c> [N, in]).</summary>
    internal byte[] DecoderModel => decoderModel ??= VaeOnnxExporter.ExportDecoder(Weights, OnnxMetadata(), options.ScoringPrecision);

    /// <summary>Always <see langword="true"/>: every output row depends only on the same input row.</summary>
    public bool IsRowToRowMapper => true;

    /// <summary>
    /// The schema <see cref="Transform"/> produces: the input's columns, unchanged, followed by the latent mean and
    /// log-variance (vectors of <see cref="LatentDim"/>), the reconstruction (vector of <see cref="InputDim"/>) and the
    /// reconstruction error (Single). An input column with the same name as an output is hidden, as in ML.NET.
    /// </summary>
    /// <exception cref="ArgumentOutOfRangeException">The input column is missing, not a vector of Single, or not of the trained size.</exception>
    public DataViewSchema GetOutputSchema(DataViewSchema inputSchema) => Plan(inputSchema).OutputSchema;

    /// <summary>
    /// Adds the VAE's output columns to <paramref name="input"/>, lazily: rows are scored when a cursor reads them,
    /// a block of rows per ONNX Runtime call, and only the outputs a consumer asks for are computed (the decoder
    /// runs only for the reconstruction and its error). A row with NaN or ∞ in the input column gets NaN outputs.
    /// </summary>
    public IDataView Transform(IDataView input)
    {
        ArgumentNullException.ThrowIfNull(input);
        return TransformWithBlockSize(input, BlockScoring.BlockRowsFor(InputDim));
    }

    /// <summary><see cref="Transform"/> with another number of rows per ONNX Runtime call (benchmarks, tests).</summary>
    internal IDataView TransformWithBlockSize(IDataView input, int blockSize) =>
        new BlockScoredDataView<VaeBlockScoring.Block>(input, new VaeBlockScoring(Plan(input.Schema), LeaseScorer), blockSize);

    /// <summary>A row-at-a-time mapper, used by <c>PredictionEngine</c>.</summary>
    public IRowToRowMapper GetRowToRowMapper(DataViewSchema inputSchema) =>
        new BlockRowMapper<VaeBlockScoring.Block>(new VaeBlockScoring(Plan(inputSchema), LeaseScorer));

    /// <summary>
    /// Writes the encoder and decoder as two standalone ONNX files (opset 17, dynamic batch dimension, standardization
    /// folded in), in this transformer's <see cref="ScoringPrecision"/> (int8 files use ONNX Runtime's <c>com.microsoft</c>
    /// operators and run in ONNX Runtime only). An existing file is replaced only when <paramref name="overwrite"/> is true; both files are written to
    /// temporary files first and moved into place only when both are complete, so a failure (full disk, read-only
    /// folder) never leaves a half-written model, or a new encoder beside an old decoder, behind.
    /// </summary>
    /// <exception cref="IOException">A target exists and <paramref name="overwrite"/> is false, or a target is an existing directory.</exception>
    /// <exception cref="ArgumentException">A path ends with a directory separator, or both paths name the same file.</exception>
    public void ExportOnnx(string encoderPath, string decoderPath, bool overwrite = false)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(encoderPath);
        ArgumentException.ThrowIfNullOrWhiteSpace(decoderPath);
        foreach (var path in new[] { encoderPath, decoderPath })
        {
            // A folder is not a file name: say so rather than fail in the temporary-file move (or write "encoder.onnx/.tmp").
            if (Directory.Exists(path))
                throw new IOException($"'{path}' is an existing directory; ExportOnnx needs a file path such as '{Path.Combine(path, "encoder.onnx")}'.");
            if (path.EndsWith(Path.DirectorySeparatorChar) || path.EndsWith(Path.AltDirectorySeparatorChar))
                throw new ArgumentException($"'{path}' ends with a directory separator; ExportOnnx needs a file path such as '{Path.Combine(path, "encoder.onnx")}'.", path == encoderPath ? nameof(encoderPath) : nameof(decoderPath));
        }
        // Windows' and macOS's default file systems ignore case: "M.onnx" and "m.onnx" are one file there, and writing both
        // would leave only the decoder.
        var pathComparison = OperatingSystem.IsWindows() || OperatingSystem.IsMacOS() ? StringComparison.OrdinalIgnoreCase : StringComparison.Ordinal;
        if (string.Equals(Path.GetFullPath(encoderPath), Path.GetFullPath(decoderPath), pathComparison))
            throw new ArgumentException($"The encoder and decoder paths are the same file ('{encoderPath}'); give each its own path.");
        if (!overwrite)
        {
            foreach (var path in new[] { encoderPath, decoderPath })
                if (File.Exists(path))
                    throw new IOException($"'{path}' already exists. Pass overwrite: true to replace it, or choose another path.");
        }
        // Both files are complete on disk before either replaces anything: never a new encoder beside an old decoder.
        byte[] encoder = EncoderModel, decoder = DecoderModel;
        SafeFile.WriteAll(new (string, Action<Stream>)[] { (encoderPath, s => s.Write(encoder)), (decoderPath, s => s.Write(decoder)) }, overwrite);
    }

    /// <summary>Writes the encoder ONNX model to <paramref name="encoder"/> and the decoder to <paramref name="decoder"/> (the streams stay open).</summary>
    public void ExportOnnx(Stream encoder, Stream decoder)
    {
        ArgumentNullException.ThrowIfNull(encoder);
        ArgumentNullException.ThrowIfNull(decoder);
        encoder.Write(EncoderModel);
        decoder.Write(DecoderModel);
    }

    /// <summary>
    /// Called by <c>mlContext.Model.Save</c>. ML.NET keeps its save/load contexts internal, so the VAE is written as an
    /// equivalent chain of ML.NET's own transformers around one ONNX graph that also carries the weights, options and
    /// training report (see <see cref="Persistence.MLNetModelChain"/>). <c>mlContext.Model.Load</c> returns that chain;
    /// <c>mlContext.Model.LoadWithFastVae</c> or <c>LoadVaeTransformer</c> return this fast transformer again.
    /// </summary>
    void ICanSaveModel.Save(ModelSaveContext ctx)
    {
        var (gpuDeviceId, fallbackToCpu) = HostEnvironmentAccess.DeviceSettings(environment);
        using var chain = MLNetModelChain.Build(this, gpuDeviceId, fallbackToCpu);
        ((ICanSaveModel)chain).Save(ctx);
    }

    /// <summary>
    /// Releases the ONNX Runtime sessions (native memory). The transformer stays usable: the next cursor or
    /// prediction engine creates them again. This matters because ML.NET's <c>PredictionEngine</c> disposes the
    /// transformer it was created from, unless <c>PredictionEngineOptions.OwnsTransformer</c> is false. Cursors and
    /// prediction engines that are scoring at that moment finish with the old sessions, which are released when the
    /// last of them is done; their next block or prediction uses new sessions.
    /// </summary>
    public void Dispose()
    {
        Scorers.Retire();
    }

    private VaeScoringPlan Plan(DataViewSchema inputSchema)
    {
        ArgumentNullException.ThrowIfNull(inputSchema);
        return new VaeScoringPlan(inputSchema, VaeOutputColumnNames.From(options), InputDim, LatentDim);
    }

    /// <summary>
    /// The current scorer (created on first use or after <see cref="Dispose"/>), leased for one scoring call so that a
    /// concurrent <see cref="Dispose"/> cannot release its sessions while they run.
    /// </summary>
    internal ScorerLease<VaeOnnxScorer> LeaseScorer() => Scorers.Lease();

    private ScorerSlot<VaeOnnxScorer> Scorers => LazyInitializer.EnsureInitialized(ref scorers, () => new ScorerSlot<VaeOnnxScorer>(() =>
    {
        var (gpuDeviceId, fallbackToCpu) = HostEnvironmentAccess.DeviceSettings(environment);
        return new VaeOnnxScorer(EncoderModel, ReconstructionErrorGraph.ExportScoringDecoder(Weights, options.ScoringPrecision), () => DecoderModel,
            InputDim, LatentDim, gpuDeviceId, fallbackToCpu);
    }));

    private OnnxModelMetadata OnnxMetadata() => new(options.Beta, new Dictionary<string, string>
    {
        ["mlnetvae.input_column"] = options.InputColumnName,
        ["mlnetvae.epochs_trained"] = (TrainingReport?.Epochs.Count ?? 0).ToString(System.Globalization.CultureInfo.InvariantCulture),
        ["mlnetvae.best_epoch"] = (TrainingReport?.BestEpoch ?? 0).ToString(System.Globalization.CultureInfo.InvariantCulture),
        ["mlnetvae.learning_rate"] = options.LearningRate.ToString("R", System.Globalization.CultureInfo.InvariantCulture),
        ["mlnetvae.batch_size"] = options.BatchSize.ToString(System.Globalization.CultureInfo.InvariantCulture),
        ["mlnetvae.scoring_precision"] = options.ScoringPrecision == VaeScoringPrecision.Int8 ? "int8" : "float32",
    });
}
