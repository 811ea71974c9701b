using Microsoft.ML;
using Microsoft.ML.Data;
using MLNetVae.Tests.TestSupport;

namespace MLNetVae.Tests.Reliability;

/// <summary>
/// The wrong column for Fit, Transform and PredictionEngine: missing, scalar, text, another item type, variable size,
/// the wrong size; and sparse vectors, which must work everywhere. Every error names the column, says what it is and
/// what is needed, and comes before any row is read.
/// </summary>
[Collection(ReliabilityCollection.Name)]
public class WrongInputTests(NewsModel news)
{
    public sealed class EmbeddingRow { [VectorType(NewsModel.Width)] public float[] Embedding { get; set; } = new float[NewsModel.Width]; }
    public sealed class TextRow { public string Features { get; set; } = "some text"; }
    public sealed class ScalarRow { public float Features { get; set; } }
    public sealed class DoubleVectorRow { [VectorType(NewsModel.Width)] public double[] Features { get; set; } = new double[NewsModel.Width]; }
    public sealed class VariableSizeRow { public float[] Features { get; set; } = new float[NewsModel.Width]; }
    public sealed class NarrowRow { [VectorType(700)] public float[] Features { get; set; } = new float[700]; }
    public sealed class SparseRow { public VBuffer<float> Features { get; set; } }

    private MLContext Ml => news.Ml;

    private IDataView One<T>(T row) where T : class => Ml.Data.LoadFromEnumerable(new[] { row });

    [Fact]
    public void AMissingColumnIsNamedByTransformAndByThePredictionEngine()
    {
        var data = One(new EmbeddingRow());
        var ex = Assert.Throws<ArgumentOutOfRangeException>(() => news.Model.Transform(data));
        Assert.Contains("Input column 'Features' was not found", ex.Message);
        Assert.Contains("'Embedding' (Vector<Single, 768>)", ex.Message);
        Assert.Contains("InputColumnName", ex.Message);

        var engineError = Assert.ThrowsAny<ArgumentException>(() =>
            Ml.Model.CreatePredictionEngine<EmbeddingRow, NewsScore>(news.Model, new PredictionEngineOptions { OwnsTransformer = false }));
        Assert.Contains("Input column 'Features' was not found", engineError.Message);
    }

    public static TheoryData<string, string> WrongTypes() => new()
    {
        { nameof(TextRow), "has type String" },
        { nameof(ScalarRow), "has type Single" },
        { nameof(DoubleVectorRow), "has type Vector<Double, 768>" },
        { nameof(VariableSizeRow), "has type Vector<Single>;" },
    };

    private IDataView WrongTypeData(string kind) => kind switch
    {
        nameof(TextRow) => One(new TextRow()),
        nameof(ScalarRow) => One(new ScalarRow()),
        nameof(DoubleVectorRow) => One(new DoubleVectorRow()),
        _ => One(new VariableSizeRow()),
    };

    [Theory]
    [MemberData(nameof(WrongTypes))]
    public void AColumnOfTheWrongTypeIsRefusedByFitTransformAndPredictionEngineBeforeAnyRowIsRead(string kind, string described)
    {
        var data = new CountingDataView(WrongTypeData(kind));
        void Check(Exception ex)
        {
            Assert.Contains($"Input column 'Features' {described}", ex.Message);
            Assert.Contains("known-size vector of Single", ex.Message);
            Assert.Contains("ConvertType", ex.Message);
        }

        Check(Assert.Throws<ArgumentOutOfRangeException>(() => Ml.Transforms.VariationalAutoencoder(Reliable.Small()).Fit(data)));
        Check(Assert.Throws<ArgumentOutOfRangeException>(() => news.Model.Transform(data)));
        Check(Assert.ThrowsAny<ArgumentException>(() => kind switch
        {
            nameof(TextRow) => (object)Ml.Model.CreatePredictionEngine<TextRow, NewsScore>(news.Model, new PredictionEngineOptions { OwnsTransformer = false }),
            nameof(ScalarRow) => Ml.Model.CreatePredictionEngine<ScalarRow, NewsScore>(news.Model, new PredictionEngineOptions { OwnsTransformer = false }),
            nameof(DoubleVectorRow) => Ml.Model.CreatePredictionEngine<DoubleVectorRow, NewsScore>(news.Model, new PredictionEngineOptions { OwnsTransformer = false }),
            _ => Ml.Model.CreatePredictionEngine<VariableSizeRow, NewsScore>(news.Model, new PredictionEngineOptions { OwnsTransformer = false }),
        }));
        Assert.Equal(0, data.CursorsOpened);
    }

    [Fact]
    public void AVectorOfAnotherSizeIsRefusedByThePredictionEngine()
    {
        var ex = Assert.ThrowsAny<ArgumentException>(() =>
            Ml.Model.CreatePredictionEngine<NarrowRow, NewsScore>(news.Model, new PredictionEngineOptions { OwnsTransformer = false }));
        Assert.Contains("Input column 'Features' has 700 features; this model was trained on 768", ex.Message);
        Assert.Contains("prepared the same way as the training data", ex.Message);
    }

    [Fact]
    public void SparseTrainingDataTrainsExactlyLikeItsDenseEquivalentAndScoresInThePredictionEngine()
    {
        // Mostly zeros, as text features are: keep every fifth feature of 200 real embeddings.
        var dense = news.Rows.Take(200).Select(r => r.Select((v, j) => j % 5 == 0 ? v : 0f).ToArray()).ToArray();
        var sparseRows = dense.Select(r => new SparseRow { Features = ToSparse(r) }).ToList();
        var definition = SchemaDefinition.Create(typeof(SparseRow));
        definition[nameof(SparseRow.Features)].ColumnType = new VectorDataViewType(NumberDataViewType.Single, NewsModel.Width);
        var sparse = Ml.Data.LoadFromEnumerable(sparseRows, definition);
        Assert.False(sparseRows[0].Features.IsDense);

        var options = Reliable.Small(epochs: 2);
        using var fromSparse = Ml.Transforms.VariationalAutoencoder(options).Fit(sparse);
        using var fromDense = Ml.Transforms.VariationalAutoencoder(options).Fit(TestData.FromArrays(Ml, dense));
        Assert.Equal(Reliable.AllWeights(fromDense), Reliable.AllWeights(fromSparse));

        using var engine = Ml.Model.CreatePredictionEngine<SparseRow, SmallScore>(fromSparse,
            new PredictionEngineOptions { OwnsTransformer = false, InputSchemaDefinition = definition });
        var transformed = TestData.ReadScalars(fromSparse.Transform(TestData.FromArrays(Ml, dense)), "ReconstructionError");
        for (int i = 0; i < 5; i++)
        {
            float predicted = engine.Predict(sparseRows[i]).ReconstructionError;
            Assert.True(Math.Abs(predicted - transformed[i]) <= 1e-5f * Math.Max(1, transformed[i]), $"row {i}: {predicted} vs {transformed[i]}");
        }

        static VBuffer<float> ToSparse(float[] row)
        {
            var indices = Enumerable.Range(0, row.Length).Where(j => row[j] != 0).ToArray();
            return new VBuffer<float>(row.Length, indices.Length, indices.Select(j => row[j]).ToArray(), indices);
        }
    }

    public sealed class SmallScore
    {
        public float ReconstructionError { get; set; }
    }
}
