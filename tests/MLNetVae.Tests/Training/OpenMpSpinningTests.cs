using Microsoft.ML;
using MLNetVae.Tests.Reliability;
using MLNetVae.Tests.TestSupport;
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

    [Fact]
    public void TheDefaultThreadCountIsCappedAtTheProcessorsTheProcessMayUse()
    {
        // Environment.ProcessorCount counts a container's CPU quota (and DOTNET_PROCESSOR_COUNT); libtorch's default does
        // not. scripts/test.sh also runs this test with DOTNET_PROCESSOR_COUNT=1, as a 1-CPU quota would set it: on a
        // multi-core machine it then trains on 1 thread instead of libtorch's count (2 on the 2-core CI machine).
        var options = Reliable.Small();
        options.NumberOfThreads = null;
        var ml = new MLContext(seed: 1);
        using var model = ml.Transforms.VariationalAutoencoder(options).Fit(TestData.FromArrays(ml, Reliable.RandomRows(40, 4, seed: 1)));
        if (Environment.GetEnvironmentVariable("OMP_NUM_THREADS") is null)
            Assert.InRange(model.TrainingReport!.Threads, 1, Environment.ProcessorCount);
    }
}
