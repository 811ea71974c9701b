using Microsoft.ML.OnnxRuntime;

namespace MLNetVae.Scoring;

/// <summary>
/// Creates ONNX Runtime sessions that share ONE process-wide thread pool. Two sessions (encoder and decoder) with
/// their own spinning pools fight for the same cores and halve throughput, so the library creates the
/// <see cref="OrtEnv"/> with global pools at its entry points (Fit, the model loaders), before ML.NET's own ONNX
/// transformer can create the default environment — unless the application created it already, in which case
/// sessions fall back to per-session pools of <see cref="Threads"/> threads.
/// </summary>
internal static class OnnxRuntimeSessions
{
    private static readonly object Gate = new();
    private static bool? globalPools;

    /// <summary>
    /// Threads of the global intra-op pool. Read once, when the first VAE scores; set the environment variable
    /// <c>MLNETVAE_ORT_THREADS</c> to override (default: all logical processors).
    /// </summary>
    public static int Threads { get; } = ReadThreads();

    /// <summary>Whether this process's OrtEnv has the global thread pools (false when the app created OrtEnv first).</summary>
    public static bool UsesGlobalThreadPool
    {
        get
        {
            EnsureEnvironment();
            return globalPools!.Value;
        }
    }

    private static int ReadThreads() =>
        int.TryParse(Environment.GetEnvironmentVariable("MLNETVAE_ORT_THREADS"), out int n) && n > 0 ? n : Environment.ProcessorCount;

    /// <summary>
    /// Creates this process's <see cref="OrtEnv"/> with the global pools unless it exists. ML.NET's ONNX transformer
    /// (the VAE stage of a loaded or saved pipeline) creates the default environment, with no global pools, the first
    /// time it runs, so every entry point that can lead there calls this first.
    /// </summary>
    internal static void EnsureEnvironment()
    {
        if (globalPools is not null)
            return;
        lock (Gate)
        {
            if (globalPools is not null)
                return;
            bool created = false;
            if (!OrtEnv.IsCreated)
            {
                try
                {
                    using var threading = new OrtThreadingOptions
                    {
                        GlobalIntraOpNumThreads = Threads,
                        GlobalInterOpNumThreads = 1,
                    };
                    var options = new EnvironmentCreationOptions
                    {
                        threadOptions = threading,
                        logLevel = OrtLoggingLevel.ORT_LOGGING_LEVEL_WARNING,
                        logId = "MLNetVae",
                    };
                    OrtEnv.CreateInstanceWithOptions(ref options);
                    created = true;
                }
                catch (OnnxRuntimeException)
                {
                    created = false; // another component won the race; use per-session pools
                }
            }
            OrtEnv.Instance().DisableTelemetryEvents();
            globalPools = created;
        }
    }

    /// <summary>
    /// A session for <paramref name="model"/> on the CPU, or on CUDA device <paramref name="gpuDeviceId"/> the way
    /// ML.NET's ONNX transformer does it: CUDA when asked for; if the CUDA provider cannot be created, the CPU when
    /// <paramref name="fallbackToCpu"/>, otherwise an <see cref="InvalidOperationException"/> that says what to do.
    /// </summary>
    public static InferenceSession Create(byte[] model, int? gpuDeviceId, bool fallbackToCpu, string what)
    {
        EnsureEnvironment();
        if (gpuDeviceId is { } id)
        {
            try
            {
                return NewSession(model, () => SessionOptions.MakeSessionOptionWithCudaProvider(id));
            }
            catch (Exception e) when (e is OnnxRuntimeException or EntryPointNotFoundException or DllNotFoundException)
            {
                if (!fallbackToCpu)
                    throw new InvalidOperationException(
                        $"MLContext.GpuDeviceId is {id}, but ONNX Runtime could not use CUDA for the {what}: {e.Message} " +
                        "Set MLContext.FallbackToCpu = true to score on the CPU, set GpuDeviceId = null, or install the CUDA " +
                        "libraries that Microsoft.ML.OnnxRuntime.Gpu needs.", e);
            }
        }
        return NewSession(model, () => new SessionOptions());
    }

    /// <summary>
    /// A session on the global pools, or on its own pools when the environment turns out to have none: another component
    /// (an application's own <c>InferenceSession</c> on another thread) can create the default OrtEnv between the check
    /// in <see cref="EnsureEnvironment"/> and ours, and ONNX Runtime then hands back that environment without an error.
    /// The session's refusal is the only sign, so it is taken as the answer for the rest of the process.
    /// </summary>
    private static InferenceSession NewSession(byte[] model, Func<SessionOptions> makeOptions)
    {
        using (var options = makeOptions())
        {
            Configure(options);
            try
            {
                return new InferenceSession(model, options);
            }
            catch (OnnxRuntimeException e) when (globalPools == true && e.Message.Contains("EnvCreatedWithGlobalThreadPools", StringComparison.Ordinal))
            {
                globalPools = false;
            }
        }
        using var ownPools = makeOptions();
        Configure(ownPools);
        return new InferenceSession(model, ownPools);
    }

    private static void Configure(SessionOptions options)
    {
        options.GraphOptimizationLevel = GraphOptimizationLevel.ORT_ENABLE_ALL;
        if (globalPools == true)
        {
            options.DisablePerSessionThreads();
        }
        else
        {
            options.IntraOpNumThreads = Threads;
            options.InterOpNumThreads = 1;
        }
    }
}
