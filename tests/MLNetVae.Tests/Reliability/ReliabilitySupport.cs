using Microsoft.ML;
using Microsoft.ML.Data;
using MLNetVae.Tests.TestSupport;

namespace MLNetVae.Tests.Reliability;

/// <summary>
/// The reliability suite shares one small trained model and runs its classes one after another, apart from the other
/// test classes (which run in parallel): it counts process-wide ONNX Runtime calls, times cancellation and runs its own
/// threads, which other tests running at the same time would disturb.
/// </summary>
[CollectionDefinition(Name, DisableParallelization = true)]
public sealed class ReliabilityCollection : ICollectionFixture<NewsModel>
{
    public const string Name = "Reliability";
}

/// <summary>A small VAE (768/32/4, one epoch, one thread) trained once on the shipped 20 Newsgroups embeddings.</summary>
public sealed class NewsModel : IDisposable
{
    public const int Width = 768;
    public const int Latent = 4;

    public NewsModel()
    {
        Ml = new MLContext(seed: 1);
        Data = Ml.Data.Cache(TestData.LoadLabelledCsv(Ml, TestData.NewsEmbeddingsCsv));
        Rows = TestData.ReadVectors(Data, "Features");
        Model = Ml.Transforms.VariationalAutoencoder(new VaeOptions
        {
            HiddenDim = 32, LatentDim = Latent, Epochs = 1, BatchSize = 64, NumberOfThreads = 1, Seed = 1,
        }).Fit(Data);
    }

    public MLContext Ml { get; }
    public IDataView Data { get; }
    public float[][] Rows { get; }
    public VaeTransformer Model { get; }

    public void Dispose() => Model.Dispose();
}

/// <summary>PredictionEngine input: the trained 768 features.</summary>
public sealed class NewsInput
{
    [VectorType(NewsModel.Width)] public float[] Features { get; set; } = new float[NewsModel.Width];
}

/// <summary>PredictionEngine output of the shared model.</summary>
public sealed class NewsScore
{
    [VectorType(NewsModel.Latent)] public float[] Mu { get; set; } = Array.Empty<float>();
    [VectorType(NewsModel.Latent)] public float[] LogVar { get; set; } = Array.Empty<float>();
    [VectorType(NewsModel.Width)] public float[] Reconstruction { get; set; } = Array.Empty<float>();
    public float ReconstructionError { get; set; }
}

internal static class Reliable
{
    /// <summary>Options for the many small Fits of this suite: tiny network, one thread, fixed seed.</summary>
    public static VaeOptions Small(int epochs = 1) => new()
    {
        HiddenDim = 16, LatentDim = 2, Epochs = epochs, BatchSize = 32, NumberOfThreads = 1, Seed = 1,
    };

    public static float[][] RandomRows(int rows, int width, int seed, float scale = 1f)
    {
        var random = new Random(seed);
        return Enumerable.Range(0, rows)
            .Select(_ => Enumerable.Range(0, width).Select(_ => (float)(random.NextDouble() * 2 - 1) * scale).ToArray())
            .ToArray();
    }

    public static float[] AllWeights(VaeTransformer model) =>
        model.Weights.Encoder.Concat(model.Weights.Decoder).SelectMany(l => l.Weight.Concat(l.Bias)).ToArray();

    /// <summary>An empty data view with a Features column of the given width.</summary>
    public static IDataView Empty(MLContext ml, int width)
    {
        var schema = SchemaDefinition.Create(typeof(TestData.VectorRow));
        schema[nameof(TestData.VectorRow.Features)].ColumnType = new VectorDataViewType(NumberDataViewType.Single, width);
        return ml.Data.LoadFromEnumerable(new List<TestData.VectorRow>(), schema);
    }

    /// <summary>Resident memory of this process (VmRSS in /proc/self/status), in bytes.</summary>
    public static long ResidentBytes()
    {
        var line = File.ReadLines("/proc/self/status").First(l => l.StartsWith("VmRSS:", StringComparison.Ordinal));
        return long.Parse(line.Split(' ', StringSplitOptions.RemoveEmptyEntries)[1]) * 1024;
    }

    /// <summary>Progress&lt;T&gt; posts to the thread pool; these tests need the callback on the training thread.</summary>
    public sealed class SynchronousProgress<T>(Action<T> report) : IProgress<T>
    {
        public void Report(T value) => report(value);
    }
}

/// <summary>Passes a data view through and counts the cursors opened on it: proof that an error came before any data was read.</summary>
internal sealed class CountingDataView(IDataView inner) : IDataView
{
    private int cursors;

    public int CursorsOpened => Volatile.Read(ref cursors);
    public bool CanShuffle => inner.CanShuffle;
    public DataViewSchema Schema => inner.Schema;
    public long? GetRowCount() => inner.GetRowCount();

    public DataViewRowCursor GetRowCursor(IEnumerable<DataViewSchema.Column> columnsNeeded, Random? rand = null)
    {
        Interlocked.Increment(ref cursors);
        return inner.GetRowCursor(columnsNeeded, rand);
    }

    public DataViewRowCursor[] GetRowCursorSet(IEnumerable<DataViewSchema.Column> columnsNeeded, int n, Random? rand = null)
    {
        Interlocked.Increment(ref cursors);
        return inner.GetRowCursorSet(columnsNeeded, n, rand);
    }
}
