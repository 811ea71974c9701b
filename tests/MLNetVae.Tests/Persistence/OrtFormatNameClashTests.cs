using System.Reflection;
using Microsoft.ML;

namespace MLNetVae.Tests.Persistence;

/// <summary>
/// <c>LoadWithFastVae</c> loads again when ML.NET's random temporary file name for a graph ended in ".ort" and ONNX
/// Runtime read the graph as an ORT-format model (dotnet/machinelearning#7339: one load in 32,768 per ONNX stage
/// failed with "ORT model verification failed", seen once in this repository's CI, as a damaged-file error).
/// </summary>
public class OrtFormatNameClashTests
{
    // The shape ML.NET gives the failure: reflection and its own wrappers around ONNX Runtime's message.
    private static Exception NameClash() => new InvalidOperationException("Error during class instantiation",
        new TargetInvocationException(new InvalidOperationException(
            "Error initializing model :Microsoft.ML.OnnxRuntime.OnnxRuntimeException: [ErrorCode:Fail] inference_session.cc:2226 operator() ORT model verification failed.",
            new InvalidOperationException("[ErrorCode:Fail] inference_session.cc:2226 operator() ORT model verification failed."))));

    [Fact]
    public void ANameClashIsLoadedAgainAndTheSecondLoadIsReturned()
    {
        int calls = 0;
        var result = VaeModelOperations.RetryingOrtFormatNameClash(() => ++calls == 1 ? throw NameClash() : "loaded");
        Assert.Equal("loaded", result);
        Assert.Equal(2, calls);
    }

    [Fact]
    public void AnyOtherErrorIsThrownAtOnceAndARepeatedClashAfterThreeTries()
    {
        int calls = 0;
        var damaged = new InvalidOperationException("Error during class instantiation", new InvalidDataException("Protobuf parsing failed."));
        Assert.Same(damaged, Assert.Throws<InvalidOperationException>(() => VaeModelOperations.RetryingOrtFormatNameClash<string>(() => { calls++; throw damaged; })));
        Assert.Equal(1, calls);

        calls = 0;
        Assert.Throws<InvalidOperationException>(() => VaeModelOperations.RetryingOrtFormatNameClash<string>(() => { calls++; throw NameClash(); }));
        Assert.Equal(3, calls);
        Assert.True(VaeModelOperations.IsOrtFormatNameClash(NameClash()));
        Assert.False(VaeModelOperations.IsOrtFormatNameClash(damaged));
    }
}
