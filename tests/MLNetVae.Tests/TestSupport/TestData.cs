using Microsoft.ML;
using Microsoft.ML.Data;

namespace MLNetVae.Tests.TestSupport;

/// <summary>Real data for tests: the sample shipped in the repo and, when present, the shared data sets.</summary>
internal static class TestData
{
    public static string RepoRoot { get; } = FindRepoRoot();

    /// <summary>20 Newsgroups BERT embeddings (615 x 768, 30 anomalies), shipped in samples/data.</summary>
    public static string NewsEmbeddingsCsv => Path.Combine(RepoRoot, "samples", "data", "20news_3_bert768.csv");

    /// <summary>ODDS Shuttle (49,097 x 9), shipped in the test data: its outliers make the unguarded reference diverge.</summary>
    public static string ShuttleCsv => Path.Combine(AppContext.BaseDirectory, "TestData", "odds", "shuttle.csv");

    /// <summary>
    /// The SchemaShape of <see cref="NewsEmbeddingsCsv"/> as loaded by <see cref="LoadLabelledCsv"/>. SchemaShape.Create is
    /// internal to ML.NET, so the columns are declared through a CustomMapping estimator's public schema logic.
    /// </summary>
    public static SchemaShape NewsShape()
    {
        var definition = SchemaDefinition.Create(typeof(LabelledRow));
        definition[nameof(LabelledRow.Features)].ColumnType = new VectorDataViewType(NumberDataViewType.Single, 768);
        return new MLContext().Transforms.CustomMapping<NoInput, LabelledRow>((_, _) => { }, null, outputSchemaDefinition: definition)
            .GetOutputSchema(new SchemaShape(Array.Empty<SchemaShape.Column>()));
    }

    public sealed class NoInput;

    public sealed class LabelledRow
    {
        public float Label { get; set; }
        public float[] Features { get; set; } = Array.Empty<float>();
    }

    /// <summary>The shared data folder beside the repo, or null when this is a plain clone without it.</summary>
    public static string? SharedDataDirectory
    {
        get
        {
            var path = Path.GetFullPath(Path.Combine(RepoRoot, "..", "shared", "data"));
            return Directory.Exists(path) ? path : null;
        }
    }

    /// <summary>Loads a CSV with a header, `Label` first then the features, as Label (Single) + Features (vector).</summary>
    public static IDataView LoadLabelledCsv(MLContext ml, string path)
    {
        int features = File.ReadLines(path).First().Split(',').Length - 1;
        return ml.Data.LoadFromTextFile(path, new[]
        {
            new TextLoader.Column("Label", DataKind.Single, 0),
            new TextLoader.Column("Features", DataKind.Single, 1, features),
        }, separatorChar: ',', hasHeader: true);
    }

    /// <summary>Reads the Features column into arrays (for comparisons).</summary>
    public static float[][] ReadVectors(IDataView data, string column)
    {
        var result = new List<float[]>();
        using var cursor = data.GetRowCursor(new[] { data.Schema[column] });
        var getter = cursor.GetGetter<VBuffer<float>>(data.Schema[column]);
        var buffer = default(VBuffer<float>);
        while (cursor.MoveNext())
        {
            getter(ref buffer);
            result.Add(buffer.DenseValues().ToArray());
        }
        return result.ToArray();
    }

    public static float[] ReadScalars(IDataView data, string column)
    {
        var result = new List<float>();
        using var cursor = data.GetRowCursor(new[] { data.Schema[column] });
        var getter = cursor.GetGetter<float>(data.Schema[column]);
        float value = 0;
        while (cursor.MoveNext())
        {
            getter(ref value);
            result.Add(value);
        }
        return result.ToArray();
    }

    /// <summary>Rows of random data as an IDataView with a Features column of the given width.</summary>
    public static IDataView Random(MLContext ml, int rows, int width, int seed, float scale = 1f)
    {
        var random = new Random(seed);
        var items = Enumerable.Range(0, rows).Select(_ => new VectorRow
        {
            Features = Enumerable.Range(0, width).Select(_ => (float)(random.NextDouble() * 2 - 1) * scale).ToArray(),
        }).ToList();
        var schema = SchemaDefinition.Create(typeof(VectorRow));
        schema[nameof(VectorRow.Features)].ColumnType = new VectorDataViewType(NumberDataViewType.Single, width);
        return ml.Data.LoadFromEnumerable(items, schema);
    }

    /// <summary>The rows as a Features column; <paramref name="width"/> gives the vector size when there are no rows.</summary>
    public static IDataView FromArrays(MLContext ml, float[][] rows, int? width = null)
    {
        var schema = SchemaDefinition.Create(typeof(VectorRow));
        schema[nameof(VectorRow.Features)].ColumnType = new VectorDataViewType(NumberDataViewType.Single, width ?? rows[0].Length);
        return ml.Data.LoadFromEnumerable(rows.Select(r => new VectorRow { Features = r }).ToList(), schema);
    }

    public sealed class VectorRow
    {
        public float[] Features { get; set; } = Array.Empty<float>();
    }

    private static string FindRepoRoot()
    {
        var directory = new DirectoryInfo(AppContext.BaseDirectory);
        while (directory is not null && !File.Exists(Path.Combine(directory.FullName, "MLNetVae.sln")))
            directory = directory.Parent;
        return directory?.FullName ?? throw new InvalidOperationException("MLNetVae.sln not found above " + AppContext.BaseDirectory);
    }
}
