using System.Diagnostics;
using System.Numerics.Tensors;
using Microsoft.ML;
using Microsoft.ML.OnnxRuntime;

namespace MLNetVae.Benchmarks;

/// <summary>
/// A trained model for the scoring benchmarks: a 1-epoch Fit on a small N(0,1) sample (scoring speed does not
/// depend on the weights' values), exported to an ONNX encoder/decoder pair in a temporary folder.
/// </summary>
internal sealed class ScoringFixture : IDisposable
{
    private readonly string directory;

    public ScoringFixture(int dim, int hidden, int latent, int threads, int trainRows = 2048)
    {
        Dim = dim;
        Latent = latent;
        Ml = new MLContext(seed: 1);
        var settings = new TrainSettings(trainRows, dim, hidden, latent, Batch: 256, Threads: threads, Seed: 0, LibraryDefaultClip: true);
        long t0 = Stopwatch.GetTimestamp();
        Model = Ml.Transforms.VariationalAutoencoder(settings.Options(epochs: 1))
            .Fit(new DenseDataView(SyntheticData.Normal(trainRows, dim, seed: 7), trainRows, dim));
        directory = Path.Combine(Path.GetTempPath(), "mlnetvae-bench-" + Environment.ProcessId);
        Directory.CreateDirectory(directory);
        EncoderPath = Path.Combine(directory, "encoder.onnx");
        DecoderPath = Path.Combine(directory, "decoder.onnx");
        Model.ExportOnnx(EncoderPath, DecoderPath, overwrite: true);
        Console.WriteLine($"model: {dim}/{hidden}/{latent}, 1-epoch Fit on {trainRows:N0} rows + ExportOnnx in {Timing.Seconds(t0):F1}s -> {directory}");
    }

    public int Dim { get; }
    public int Latent { get; }
    public MLContext Ml { get; }
    public VaeTransformer Model { get; }
    public string EncoderPath { get; }
    public string DecoderPath { get; }

    public void Dispose()
    {
        Model.Dispose();
        try
        {
            Directory.Delete(directory, recursive: true);
        }
        catch (IOException)
        {
        }
    }
}

/// <summary>
/// The hand-written ONNX Runtime baseline: the exported encoder and decoder, one global thread pool
/// (<c>DisablePerSessionThreads</c>), tensors bound straight onto managed arrays
/// (<c>OrtValue.CreateTensorValueFromMemory</c>), decoder on mu, per-row MSE with TensorPrimitives.
/// What a careful application would write by hand, with no IDataView in between.
/// </summary>
internal sealed class RawOrtScorer : IDisposable
{
    private static readonly string[] EncoderInputs = { "features" };
    private static readonly string[] EncoderOutputs = { "mu", "logvar" };
    private static readonly string[] DecoderInputs = { "z" };
    private static readonly string[] DecoderOutputs = { "reconstruction" };

    private readonly InferenceSession encoder;
    private readonly InferenceSession decoder;
    private readonly RunOptions runOptions = new();
    private readonly int dim, latent, batch;
    private readonly float[] mu, logVar, reconstruction, difference;

    public RawOrtScorer(string encoderPath, string decoderPath, int dim, int latent, int batch, int threads)
    {
        EnsureGlobalThreadPool(threads);
        this.dim = dim;
        this.latent = latent;
        this.batch = batch;
        using var options = new SessionOptions { GraphOptimizationLevel = GraphOptimizationLevel.ORT_ENABLE_ALL };
        options.DisablePerSessionThreads();
        encoder = new InferenceSession(encoderPath, options);
        decoder = new InferenceSession(decoderPath, options);
        mu = new float[batch * latent];
        logVar = new float[batch * latent];
        reconstruction = new float[batch * dim];
        difference = new float[dim];
    }

    /// <summary>
    /// OrtEnv is a process singleton. MLNetVae creates it with global pools the first time it scores; when this
    /// baseline comes first, create it the same way (MLNetVae then finds it created and would fall back to
    /// per-session pools, so the score command always lets MLNetVae score first).
    /// </summary>
    public static void EnsureGlobalThreadPool(int threads)
    {
        if (OrtEnv.IsCreated)
            return;
        using var threading = new OrtThreadingOptions { GlobalIntraOpNumThreads = threads, GlobalInterOpNumThreads = 1 };
        var env = new EnvironmentCreationOptions { threadOptions = threading, logLevel = OrtLoggingLevel.ORT_LOGGING_LEVEL_WARNING, logId = "bench" };
        OrtEnv.CreateInstanceWithOptions(ref env);
        OrtEnv.Instance().DisableTelemetryEvents();
    }

    /// <summary>Scores <paramref name="rows"/> rows of <paramref name="data"/> in batches; writes each row's MSE into <paramref name="errors"/>.</summary>
    public double Score(float[] data, int rows, float[] errors)
    {
        double checksum = 0;
        for (int start = 0; start < rows; start += batch)
        {
            int n = Math.Min(batch, rows - start);
            using (var x = Tensor(data, start * dim, n, dim))
            using (var m = Tensor(mu, 0, n, latent))
            using (var lv = Tensor(logVar, 0, n, latent))
            using (var r = Tensor(reconstruction, 0, n, dim))
            {
                encoder.Run(runOptions, EncoderInputs, new[] { x }, EncoderOutputs, new[] { m, lv });
                decoder.Run(runOptions, DecoderInputs, new[] { m }, DecoderOutputs, new[] { r });
            }
            for (int row = 0; row < n; row++)
            {
                var input = data.AsSpan((start + row) * dim, dim);
                var output = reconstruction.AsSpan(row * dim, dim);
                TensorPrimitives.Subtract(input, output, difference);
                errors[start + row] = TensorPrimitives.SumOfSquares<float>(difference) / dim;
            }
            checksum += mu[0] + logVar[0] + errors[start];
        }
        return checksum;
    }

    private static OrtValue Tensor(float[] buffer, int offset, int rows, int columns) =>
        OrtValue.CreateTensorValueFromMemory(OrtMemoryInfo.DefaultInstance, buffer.AsMemory(offset, rows * columns), new long[] { rows, columns });

    public void Dispose()
    {
        encoder.Dispose();
        decoder.Dispose();
        runOptions.Dispose();
    }
}
