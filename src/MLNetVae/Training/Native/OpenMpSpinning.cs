using System.Runtime.InteropServices;

namespace MLNetVae.Training.Native;

/// <summary>
/// Keeps libtorch's OpenMP worker threads from spinning for long when they wait, unless the application configured
/// OpenMP itself. GNU OpenMP (which libtorch's CPU build uses) spins up to 300,000 iterations at every barrier before
/// it sleeps; when other processes hold the cores (a container with a CPU quota, CI, a web server beside the model)
/// the spinning threads take the time the working ones need, and training with the default 2 threads ran 20x slower
/// than unloaded (551 vs 10,700 samples/s) and 8x slower than with one thread. With <c>GOMP_SPINCOUNT=1000</c> it ran
/// as fast as before on an idle machine and 1.07x faster than one thread on the loaded one; <c>OMP_WAIT_POLICY=PASSIVE</c>
/// also avoided the collapse but cost 16% when idle (docs/benchmarks.md, "Threads on a shared machine").
/// </summary>
/// <remarks>
/// libgomp reads its environment once, when it is loaded, so this runs before the library first loads libtorch
/// (<see cref="LibTorchSharpLoader.EnsureLoadable"/>), through libc's <c>setenv</c>: .NET's
/// <see cref="Environment.SetEnvironmentVariable(string, string)"/> does not reach native <c>getenv</c> on Linux. An
/// application that loaded libtorch before MLNetVae, or that sets <c>OMP_WAIT_POLICY</c> or <c>GOMP_SPINCOUNT</c>
/// itself, keeps its own settings.
/// </remarks>
internal static class OpenMpSpinning
{
    public const string SpinCountVariable = "GOMP_SPINCOUNT";
    public const string WaitPolicyVariable = "OMP_WAIT_POLICY";

    /// <summary>Spin iterations before an idle OpenMP thread sleeps: ~microseconds, enough for back-to-back kernels.</summary>
    public const string SpinCount = "1000";

    /// <summary>What was done, for diagnostics and tests.</summary>
    public static string Outcome { get; private set; } = "not run";

    [System.Runtime.Versioning.SupportedOSPlatform("linux")]
    public static void LimitUnlessConfigured()
    {
        try
        {
            Limit();
        }
        catch (Exception e) when (e is DllNotFoundException or EntryPointNotFoundException)
        {
            // A Linux without glibc's names (musl): training works, only without the limit.
            Outcome = $"libc's setenv/getenv not reachable ({e.GetType().Name}): OpenMP spins as configured";
        }
    }

    [System.Runtime.Versioning.SupportedOSPlatform("linux")]
    private static void Limit()
    {
        if (NativeValue(WaitPolicyVariable) is { } policy)
        {
            Outcome = $"{WaitPolicyVariable}={policy} set by the application: left as it is";
            return;
        }
        if (NativeValue(SpinCountVariable) is { } count)
        {
            Outcome = $"{SpinCountVariable}={count} set by the application: left as it is";
            return;
        }
        Outcome = setenv(SpinCountVariable, SpinCount, overwrite: 0) == 0
            ? $"{SpinCountVariable}={SpinCount} set for libtorch's OpenMP threads"
            : $"setenv({SpinCountVariable}) failed (errno {Marshal.GetLastPInvokeError()}): OpenMP spins as configured";
    }

    /// <summary>The variable as native code sees it (<c>getenv</c>), or null.</summary>
    [System.Runtime.Versioning.SupportedOSPlatform("linux")]
    internal static string? NativeValue(string name) => Marshal.PtrToStringUTF8(getenv(name));

    [DllImport("libc", SetLastError = true)]
    private static extern int setenv([MarshalAs(UnmanagedType.LPUTF8Str)] string name, [MarshalAs(UnmanagedType.LPUTF8Str)] string value, int overwrite);

    [DllImport("libc")]
    private static extern IntPtr getenv([MarshalAs(UnmanagedType.LPUTF8Str)] string name);
}
