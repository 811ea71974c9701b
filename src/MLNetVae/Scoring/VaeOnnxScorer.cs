using Microsoft.ML.OnnxRuntime;
using MLNetVae.Onnx;

namespace MLNetVae.Scoring;

/// <summary>Which outputs a caller needs; the decoder runs only for the last two.</summary>
[Flags]
internal enum VaeOutputs
{
    None = 0,
    Mu = 1,
    LogVar = 2,
    Reconstruction = 4,
    ReconstructionError = 8,
    Encoder = Mu | LogVar,
    Decoder = Reconstruction | ReconstructionError,
    All = Encoder | Decoder,
}

/// <summary>Row-major buffers for one block of rows of the VAE: the input and every output.</summary>
internal sealed class VaeBlock
{
    public VaeBlock(int capacity, int inputDim, int latentDim)
    {
        Capacity = capacity;
        InputDim = inputDim;
        LatentDim = latentDim;
        Input = new float[capacity * inputDim];
        Mu = new float[capacity * latentDim];
        LogVar = new float[capacity * latentDim];
        Reconstruction = new float[capacity * inputDim];
        Error = new float[capacity];
    }

    public int Capacity { get; }
    public int InputDim { get; }
    public int LatentDim { get; }
    public int Rows { get; set; }
    public float[] Input { get; }
    public float[] Mu { get; }
    public float[] LogVar { get; }
    public float[] Reconstruction { get; }
    public float[] Error { get; }

    public Span<float> InputRow(int row) => Input.AsSpan(row * InputDim, InputDim);
    public ReadOnlySpan<float> MuRow(int row) => Mu.AsSpan(row * LatentDim, LatentDim);
    public ReadOnlySpan<float> ReconstructionRow(int row) => Reconstruction.AsSpan(row * InputDim, InputDim);
}

/// <summary>
/// Scores blocks of rows with the VAE's ONNX Runtime sessions: the encoder, and the decoder with the reconstruction
/// error (<see cref="ReconstructionErrorGraph"/>) when a decoder output is needed; one call per network per block,
/// reading from and writing into the block's managed arrays without copies. The plain decoder (generation) is created
/// on first use. Thread-safe (ORT sessions are); its sessions live until the last <see cref="ScorerLease{TScorer}"/> ends.
/// </summary>
internal sealed class VaeOnnxScorer : ILeasedScorer
{
    private static readonly string[] EncoderInputs = { VaeOnnxNames.EncoderInput };
    private static readonly string[] EncoderOutputs = { VaeOnnxNames.EncoderMean, VaeOnnxNames.EncoderLogVariance };
    private static readonly string[] ScoringDecoderInputs = { VaeOnnxNames.DecoderInput, ReconstructionErrorGraph.FeaturesInput };
    private static readonly string[] ScoringDecoderOutputs = { VaeOnnxNames.DecoderOutput, ReconstructionErrorGraph.ErrorOutput };
    private static readonly string[] DecoderInputs = { VaeOnnxNames.DecoderInput };
    private static readonly string[] DecoderOutputs = { VaeOnnxNames.DecoderOutput };

    private readonly InferenceSession encoder;
    private readonly InferenceSession scoringDecoder;
    private readonly Lazy<InferenceSession> decoder;

    /// <param name="encoderModel">The exported encoder.</param>
    /// <param name="scoringDecoderModel">The decoder with the reconstruction error (<see cref="ReconstructionErrorGraph.ExportScoringDecoder"/>).</param>
    /// <param name="decoderModel">The exported decoder, for generation (made on first use).</param>
    /// <param name="inputDim">Features per row.</param>
    /// <param name="latentDim">Latent dimensions.</param>
    /// <param name="gpuDeviceId">CUDA device, or null for the CPU.</param>
    /// <param name="fallbackToCpu">Whether to use the CPU when CUDA cannot be used.</param>
    public VaeOnnxScorer(byte[] encoderModel, byte[] scoringDecoderModel, Func<byte[]> decoderModel, int inputDim, int latentDim, int? gpuDeviceId, bool fallbackToCpu)
    {
        InputDim = inputDim;
        LatentDim = latentDim;
        Leases = new ScorerLeases(ReleaseSessions);
        encoder = OnnxRuntimeSessions.Create(encoderModel, gpuDeviceId, fallbackToCpu, "VAE encoder");
        try
        {
            scoringDecoder = OnnxRuntimeSessions.Create(scoringDecoderModel, gpuDeviceId, fallbackToCpu, "VAE decoder");
        }
        catch
        {
            encoder.Dispose();
            throw;
        }
        decoder = new Lazy<InferenceSession>(() => OnnxRuntimeSessions.Create(decoderModel(), gpuDeviceId, fallbackToCpu, "VAE decoder"));
    }

    public int InputDim { get; }
    public int LatentDim { get; }

    public ScorerLeases Leases { get; }

    /// <summary>Process-wide counts of ONNX Runtime calls (tests use them to prove laziness and skipped decoders).</summary>
    internal static long EncoderRuns => Interlocked.Read(ref encoderRuns);

    internal static long DecoderRuns => Interlocked.Read(ref decoderRuns);

    private static long encoderRuns;
    private static long decoderRuns;

    /// <summary>Fills the requested outputs of <paramref name="block"/> for its first <see cref="VaeBlock.Rows"/> rows.</summary>
    public void Score(VaeBlock block, VaeOutputs outputs)
    {
        int n = block.Rows;
        if (n == 0 || outputs == VaeOutputs.None)
            return;
        using var runOptions = new RunOptions();
        using (var x = Tensor(block.Input, n, InputDim))
        using (var mu = Tensor(block.Mu, n, LatentDim))
        using (var logVar = Tensor(block.LogVar, n, LatentDim))
            encoder.Run(runOptions, EncoderInputs, new[] { x }, EncoderOutputs, new[] { mu, logVar });
        Interlocked.Increment(ref encoderRuns);

        if ((outputs & VaeOutputs.Decoder) == 0)
            return;
        using (var mu = Tensor(block.Mu, n, LatentDim))
        using (var x = Tensor(block.Input, n, InputDim))
        using (var reconstruction = Tensor(block.Reconstruction, n, InputDim))
        using (var error = OrtValue.CreateTensorValueFromMemory(OrtMemoryInfo.DefaultInstance, block.Error.AsMemory(0, n), new long[] { n }))
            scoringDecoder.Run(runOptions, ScoringDecoderInputs, new[] { mu, x }, ScoringDecoderOutputs, new[] { reconstruction, error });
        Interlocked.Increment(ref decoderRuns);
    }

    /// <summary>
    /// Runs the decoder on <paramref name="rows"/> latent codes, row-major in <paramref name="z"/> (<c>[rows, latent]</c>),
    /// writing <c>[rows, in]</c> into <paramref name="output"/> in the original feature scale. One ONNX Runtime call.
    /// </summary>
    public void Decode(float[] z, float[] output, int rows)
    {
        if (rows == 0)
            return;
        using var runOptions = new RunOptions();
        using (var input = Tensor(z, rows, LatentDim))
        using (var reconstruction = Tensor(output, rows, InputDim))
            decoder.Value.Run(runOptions, DecoderInputs, new[] { input }, DecoderOutputs, new[] { reconstruction });
        Interlocked.Increment(ref decoderRuns);
    }

    internal static OrtValue Tensor(float[] buffer, int rows, int columns, int firstRow = 0) =>
        OrtValue.CreateTensorValueFromMemory(OrtMemoryInfo.DefaultInstance, buffer.AsMemory(firstRow * columns, rows * columns), new long[] { rows, columns });

    private void ReleaseSessions()
    {
        encoder.Dispose();
        scoringDecoder.Dispose();
        if (decoder.IsValueCreated)
            decoder.Value.Dispose();
    }
}
