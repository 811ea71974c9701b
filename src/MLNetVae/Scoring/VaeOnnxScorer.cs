using System.Numerics.Tensors;
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

/// <summary>Row-major buffers for one block of rows: the input and every output.</summary>
internal sealed class ScoringBlock
{
    public ScoringBlock(int capacity, int inputDim, int latentDim)
    {
        Capacity = capacity;
        InputDim = inputDim;
        LatentDim = latentDim;
        Input = new float[capacity * inputDim];
        Mu = new float[capacity * latentDim];
        LogVar = new float[capacity * latentDim];
        Reconstruction = new float[capacity * inputDim];
        Error = new float[capacity];
        Difference = new float[inputDim];
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

    /// <summary>Scratch row for the reconstruction error.</summary>
    public float[] Difference { get; }

    public Span<float> InputRow(int row) => Input.AsSpan(row * InputDim, InputDim);
    public ReadOnlySpan<float> MuRow(int row) => Mu.AsSpan(row * LatentDim, LatentDim);
    public ReadOnlySpan<float> LogVarRow(int row) => LogVar.AsSpan(row * LatentDim, LatentDim);
    public ReadOnlySpan<float> ReconstructionRow(int row) => Reconstruction.AsSpan(row * InputDim, InputDim);
}

/// <summary>
/// Scores blocks of rows with the exported encoder and decoder: one ONNX Runtime call per network per block,
/// reading from and writing into the block's managed arrays without copies. Thread-safe (ORT sessions are).
/// </summary>
/// <remarks>
/// The sessions are released only when nobody is scoring with them: every <see cref="Score"/> call runs under a
/// <see cref="Lease"/> (taken by the transformer, see <c>VaeTransformer.LeaseScorer</c>), and <see cref="Dispose"/>
/// retires the scorer, which frees the sessions when the last lease ends. Without this, one
/// <c>PredictionEngine</c> disposing the transformer (as ML.NET's engines do) freed the sessions under every other
/// engine and cursor of that transformer, which then failed or crashed the process.
/// </remarks>
internal sealed class VaeOnnxScorer : IDisposable
{
    private static readonly string[] EncoderInputs = { VaeOnnxNames.EncoderInput };
    private static readonly string[] EncoderOutputs = { VaeOnnxNames.EncoderMean, VaeOnnxNames.EncoderLogVariance };
    private static readonly string[] DecoderInputs = { VaeOnnxNames.DecoderInput };
    private static readonly string[] DecoderOutputs = { VaeOnnxNames.DecoderOutput };

    private readonly InferenceSession encoder;
    private readonly InferenceSession decoder;
    private readonly object leaseGate = new();
    private int leases;
    private bool retired;
    private bool released;

    public VaeOnnxScorer(byte[] encoderModel, byte[] decoderModel, int inputDim, int latentDim, int? gpuDeviceId, bool fallbackToCpu)
    {
        InputDim = inputDim;
        LatentDim = latentDim;
        encoder = OnnxRuntimeSessions.Create(encoderModel, gpuDeviceId, fallbackToCpu, "VAE encoder");
        try
        {
            decoder = OnnxRuntimeSessions.Create(decoderModel, gpuDeviceId, fallbackToCpu, "VAE decoder");
        }
        catch
        {
            encoder.Dispose();
            throw;
        }
    }

    public int InputDim { get; }
    public int LatentDim { get; }

    /// <summary>Process-wide counts of ONNX Runtime calls (tests use them to prove laziness and skipped decoders).</summary>
    internal static long EncoderRuns => Interlocked.Read(ref encoderRuns);

    internal static long DecoderRuns => Interlocked.Read(ref decoderRuns);

    private static long encoderRuns;
    private static long decoderRuns;

    public ScoringBlock CreateBlock(int capacity) => new(capacity, InputDim, LatentDim);

    /// <summary>Fills the requested outputs of <paramref name="block"/> for its first <see cref="ScoringBlock.Rows"/> rows.</summary>
    public void Score(ScoringBlock block, VaeOutputs outputs)
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
        using (var reconstruction = Tensor(block.Reconstruction, n, InputDim))
            decoder.Run(runOptions, DecoderInputs, new[] { mu }, DecoderOutputs, new[] { reconstruction });
        Interlocked.Increment(ref decoderRuns);

        if ((outputs & VaeOutputs.ReconstructionError) != 0)
        {
            for (int row = 0; row < n; row++)
                block.Error[row] = ScoreOverflow.Finish(
                    MeanSquaredError(block.InputRow(row), block.ReconstructionRow(row), block.Difference), block.InputRow(row));
        }
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
            decoder.Run(runOptions, DecoderInputs, new[] { input }, DecoderOutputs, new[] { reconstruction });
        Interlocked.Increment(ref decoderRuns);
    }

    /// <summary>Mean over features of (x − x̂)², in float32 like the reference.</summary>
    internal static float MeanSquaredError(ReadOnlySpan<float> x, ReadOnlySpan<float> reconstruction, Span<float> scratch)
    {
        var difference = scratch[..x.Length];
        TensorPrimitives.Subtract(x, reconstruction, difference);
        return TensorPrimitives.SumOfSquares<float>(difference) / x.Length;
    }

    private static OrtValue Tensor(float[] buffer, int rows, int columns) =>
        OrtValue.CreateTensorValueFromMemory(OrtMemoryInfo.DefaultInstance, buffer.AsMemory(0, rows * columns), new long[] { rows, columns });

    /// <summary>Whether the sessions have been released (retired and no lease left).</summary>
    internal bool IsReleased
    {
        get
        {
            lock (leaseGate)
                return released;
        }
    }

    /// <summary>Takes a lease: the sessions stay alive until it is disposed. Fails on a retired scorer.</summary>
    public Lease Acquire()
    {
        lock (leaseGate)
        {
            if (retired)
                throw new ObjectDisposedException(nameof(VaeOnnxScorer), "This VAE scorer was retired; ask the transformer for a new lease.");
            leases++;
        }
        return new Lease(this);
    }

    private void Release()
    {
        lock (leaseGate)
        {
            leases--;
            if (retired && leases == 0)
                ReleaseSessions();
        }
    }

    /// <summary>Retires the scorer: no new leases; the sessions are released now, or when the last lease ends.</summary>
    public void Dispose()
    {
        lock (leaseGate)
        {
            retired = true;
            if (leases == 0)
                ReleaseSessions();
        }
    }

    private void ReleaseSessions()
    {
        if (released)
            return;
        released = true;
        encoder.Dispose();
        decoder.Dispose();
    }

    /// <summary>A scorer that stays usable until this is disposed (once).</summary>
    public sealed class Lease : IDisposable
    {
        private VaeOnnxScorer? scorer;

        internal Lease(VaeOnnxScorer scorer) => this.scorer = scorer;

        public VaeOnnxScorer Scorer => scorer ?? throw new ObjectDisposedException(nameof(Lease));

        public void Dispose() => Interlocked.Exchange(ref scorer, null)?.Release();
    }
}
