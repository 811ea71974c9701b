using MLNetVae.Training.Native;

namespace MLNetVae.Tests.Training;

/// <summary>
/// The OpenMP spin limit that keeps the default two training threads from collapsing on a busy machine
/// (docs/benchmarks.md, "Threads on a shared machine") is in place before libtorch loads, unless the process was
/// started with its own OpenMP settings, which are then left alone.
/// </summary>
public sealed class OpenMpSpinningTests
{
    [Fact]
    public void TheSpinLimitIsSetForNativeCodeUnlessTheProcessConfiguredOpenMpItself()
    {
        LibTorchSharpLoader.EnsureLoadable();
        // .NET's copy of the environment is the one the process started with; native getenv sees setenv's changes.
        string? policy = Environment.GetEnvironmentVariable(OpenMpSpinning.WaitPolicyVariable);
        string? count = Environment.GetEnvironmentVariable(OpenMpSpinning.SpinCountVariable);
        if (policy is null && count is null)
        {
            Assert.Equal(OpenMpSpinning.SpinCount, OpenMpSpinning.NativeValue(OpenMpSpinning.SpinCountVariable));
            Assert.Equal($"GOMP_SPINCOUNT={OpenMpSpinning.SpinCount} set for libtorch's OpenMP threads", OpenMpSpinning.Outcome);
        }
        else
        {
            Assert.EndsWith("set by the application: left as it is", OpenMpSpinning.Outcome);
            Assert.Equal(count, OpenMpSpinning.NativeValue(OpenMpSpinning.SpinCountVariable));
        }
    }
}
