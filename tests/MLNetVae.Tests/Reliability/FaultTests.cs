using System.Diagnostics;
using Google.Protobuf;
using Microsoft.ML;
using MLNetVae.Tests.TestSupport;
using Xunit.Abstractions;

namespace MLNetVae.Tests.Reliability;

/// <summary>Faults: cancelling a long Fit from another thread, and model files whose ONNX graph was swapped for another valid model.</summary>
[Collection(ReliabilityCollection.Name)]
public class FaultTests(NewsModel news, ITestOutputHelper output) : IDisposable
{
    private readonly DirectoryInfo folder = Directory.CreateTempSubdirectory("mlnetvae-fault-");

    public void Dispose() => folder.Delete(recursive: true);

    [Fact]
    public void CancellingFromAnotherThreadMidEpochReturnsWithinAFewSeconds()
    {
        // A bigger network (768/1024/32, batches of 32: an epoch takes about a second on one thread), cancelled
        // after ~1 s from another thread, as an application's Cancel button or Ctrl+C handler would.
        var ml = new MLContext(seed: 1);
        using var cancellation = new CancellationTokenSource();
        int epochs = 0;
        var options = new VaeOptions
        {
            HiddenDim = 1024, LatentDim = 32, Epochs = 1000, BatchSize = 32, NumberOfThreads = 1, Seed = 1,
            CancellationToken = cancellation.Token,
            Progress = new Reliable.SynchronousProgress<VaeEpochReport>(_ => Interlocked.Increment(ref epochs)),
        };
        var workingFolder = Directory.GetFileSystemEntries(Environment.CurrentDirectory).Order().ToArray();

        var fit = Task.Factory.StartNew(() => ml.Transforms.VariationalAutoencoder(options).Fit(news.Data), TaskCreationOptions.LongRunning);
        Thread.Sleep(1000);
        Assert.False(fit.IsCompleted, "Fit ended before it was cancelled");
        var clock = Stopwatch.StartNew();
        cancellation.Cancel();
        var ex = Assert.ThrowsAny<OperationCanceledException>(() => fit.GetAwaiter().GetResult());
        clock.Stop();

        output.WriteLine($"Fit returned {clock.ElapsedMilliseconds} ms after Cancel, after {epochs} completed epochs.");
        Assert.Equal(cancellation.Token, ex.CancellationToken);
        Assert.True(clock.Elapsed < TimeSpan.FromSeconds(3), $"Fit took {clock.Elapsed.TotalSeconds:F1} s to return after Cancel");
        Assert.True(epochs < 1000);
        // Fit writes no files at all: nothing half-written can be left behind.
        Assert.Equal(workingFolder, Directory.GetFileSystemEntries(Environment.CurrentDirectory).Order().ToArray());
    }

    public static TheoryData<string> ForeignGraphs() => new() { "pytorch-vae", "our-standalone-encoder", "row-graph-not-ours" };

    [Theory]
    [MemberData(nameof(ForeignGraphs))]
    public void AModelFileWhoseOnnxGraphWasSwappedForAnotherValidModelIsRefused(string kind)
    {
        var path = Path.Combine(folder.FullName, "vae.zip");
        news.Ml.Model.Save(news.Model, news.Data.Schema, path);
        byte[] foreign = kind switch
        {
            // The PyTorch reference VAE exported by torch.onnx: valid ONNX, another producer, other names.
            "pytorch-vae" => File.ReadAllBytes(Path.Combine(AppContext.BaseDirectory, "TestData", "parity", "vae_parity.onnx")),
            // Ours, but the standalone encoder rather than the row graph a model file holds.
            "our-standalone-encoder" => StandaloneEncoder(),
            // The saved row graph with its weights changed and its MLNetVae metadata removed: names and shapes fit, so
            // ML.NET's own loader accepts it, but it is not the model that was saved.
            _ => Doctored(ReadGraph(path)),
        };
        ReplaceGraph(path, foreign);

        var ex = Assert.Throws<VaeModelFileException>(() => new MLContext().Model.LoadVaeTransformer(path));
        Assert.Contains("vae.zip", ex.Message);
        Assert.Contains("holds 0 VAEs: no ONNX graph in it was written by MLNetVae", ex.Message);

        ex = Assert.Throws<VaeModelFileException>(() => new MLContext().Model.LoadWithFastVae(path, out _));
        Assert.Contains("vae.zip", ex.Message);
        output.WriteLine($"{kind}, LoadWithFastVae: {ex.Message}");
        if (kind == "row-graph-not-ours")
            Assert.Contains("has a VAE stage whose ONNX graph was not written by MLNetVae", ex.Message);
        else
            Assert.Contains("does not exist in the ONNX model", ex.Message); // ML.NET's cause, not just "Error during class instantiation"

        var plain = new MLContext();
        plain.RegisterVaeComponents();
        if (kind == "row-graph-not-ours")
        {
            // What our loaders guard against: ML.NET checks column names only and returns a different model.
            var loaded = plain.Model.Load(path, out _);
            var original = TestData.ReadScalars(news.Model.Transform(news.Data), "ReconstructionError");
            Assert.NotEqual(original, TestData.ReadScalars(loaded.Transform(news.Data), "ReconstructionError"));
        }
        else
        {
            var mlnet = Assert.ThrowsAny<Exception>(() => plain.Model.Load(path, out _));
            output.WriteLine($"{kind}, plain ML.NET load: {mlnet.GetType().Name}: {mlnet.Message} / {mlnet.GetBaseException().Message}");
        }
    }

    private byte[] StandaloneEncoder()
    {
        using var encoder = new MemoryStream();
        news.Model.ExportOnnx(encoder, new MemoryStream());
        return encoder.ToArray();
    }

    private static byte[] Doctored(byte[] graph)
    {
        var model = global::Onnx.ModelProto.Parser.ParseFrom(graph);
        model.ProducerName = "SomeoneElse";
        model.MetadataProps.Clear();
        foreach (var tensor in model.Graph.Initializer.Where(t => t.Dims.Count == 1))
        {
            var values = tensor.RawData.ToByteArray();
            var floats = System.Runtime.InteropServices.MemoryMarshal.Cast<byte, float>(values.AsSpan());
            for (int i = 0; i < floats.Length; i++) floats[i] += 0.5f;
            tensor.RawData = ByteString.CopyFrom(values);
        }
        return model.ToByteArray();
    }

    private static byte[] ReadGraph(string zipPath) => ModelZip.ReadGraph(zipPath);

    private static void ReplaceGraph(string zipPath, byte[] graph) => ModelZip.ReplaceGraph(zipPath, graph);
}
