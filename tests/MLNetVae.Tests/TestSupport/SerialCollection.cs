namespace MLNetVae.Tests.TestSupport;

/// <summary>
/// Test classes that observe process-wide state (ONNX Runtime call counters, memory, timing) join this collection: it
/// runs after the parallel classes, on its own, so no other test disturbs what it measures.
/// </summary>
[CollectionDefinition(Name, DisableParallelization = true)]
public sealed class SerialCollection
{
    public const string Name = "Serial";
}
