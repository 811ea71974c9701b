using Microsoft.ML;
using Microsoft.ML.Data;
using Microsoft.ML.OnnxRuntime;
using MLNetVae.Tests.TestSupport;
using MLNetVae.Training;
using static TorchSharp.torch;

namespace MLNetVae.Tests.Scoring;

/// <summary>The transformer's ONNX Runtime scoring inside ML.NET: correctness against TorchSharp and across access paths.</summary>
// Counts process-wide ONNX Runtime calls (VaeOnnxScorer.EncoderRuns/DecoderRuns): runs apart from the parallel classes.
[Collection(TestSupport.SerialCollection.Name)]
public class ScoringTests : IClassFixture<ScoringTests.TrainedModel>
{
    /// <summary>One small model trained once on the real embeddings, shared by the tests of this class.</summary>
    public sealed class TrainedModel : IDisposable
    {
        public TrainedModel()
        {
            Ml = new MLContext(seed: 1);
            Data = TestData.LoadLabelledCsv(Ml, TestData.NewsEmbeddingsCsv);
            Model = Ml.Transforms.VariationalAutoencoder(new VaeOptions
            {
                HiddenDim = 48, LatentDim = 6, Epochs = 3, BatchSize = 64, NumberOfThreads = 2, Seed = 3,
            }).Fit(Data);
        }

        public MLContext Ml { get; }
        public IDataView Data { get; }
        public VaeTransformer Model { get; }

        public void Dispose() => Model.Dispose();
    }

    private readonly TrainedModel trained;

    public ScoringTests(TrainedModel trained) => this.trained = trained;

    private MLContext Ml => trained.Ml;
    private VaeTransformer Model => trained.Model;

    public sealed class ScoredRow
    {
        public float Label { get; set; }
        [VectorType(6)] public float[] Mu { get; set; } = Array.Empty<float>();
        [VectorType(6)] public float[] LogVar { get; set; } = Array.Empty<float>();
        [VectorType(768)] public float[] Reconstruction { get; set; } = Array.Empty<float>();
        public float ReconstructionError { get; set; }
    }

    public sealed class InputRow
    {
        public float Label { get; set; }
        [VectorType(768)] public float[] Features { get; set; } = Array.Empty<float>();
    }

    [Fact]
    public void WideInputsScoreInSmallerBlocksWithTheSameOutputs()
    {
        // 1,024 rows of 20,000 features would be 80 MB per buffer and cursor; the block shrinks to ~16 MB (209 rows).
        Assert.Equal(1024, MLNetVae.Scoring.BlockScoring.BlockRowsFor(768));
        Assert.Equal(209, MLNetVae.Scoring.BlockScoring.BlockRowsFor(20_000));
        Assert.Equal(4, MLNetVae.Scoring.BlockScoring.BlockRowsFor(1 << 20));

        var ml = new MLContext(seed: 1);
        var data = ml.Data.Cache(TestData.Random(ml, 450, width: 20_000, seed: 3));
        using var vae = ml.Transforms.VariationalAutoencoder(new VaeOptions { HiddenDim = 4, LatentDim = 2, Epochs = 1, NumberOfThreads = 1, Seed = 1 }).Fit(data);
        var byDefault = TestData.ReadScalars(vae.Transform(data), "ReconstructionError");
        var oneBlock = TestData.ReadScalars(vae.TransformWithBlockSize(data, 1024), "ReconstructionError");
        Assert.Equal(450, byDefault.Length);
        Assert.Equal(oneBlock, byDefault);
    }

    [Fact]
    public void OnnxRuntimeScoresMatchTheTorchSharpNetworkOn1000Rows()
    {
        // 1,000 rows: the 615 real embeddings plus 385 perturbed copies.
        var real = TestData.ReadVectors(trained.Data, "Features");
        var random = new Random(5);
        var rows = real.Concat(real.Take(385).Select(r => r.Select(v => v + (float)(random.NextDouble() - 0.5) * 0.1f).ToArray())).ToArray();
        Assert.Equal(1000, rows.Length);
        var scored = Model.Transform(TestData.FromArrays(Ml, rows));
        var mu = TestData.ReadVectors(scored, "Mu");
        var logVar = TestData.ReadVectors(scored, "LogVar");
        var reconstruction = TestData.ReadVectors(scored, "Reconstruction");
        var error = TestData.ReadScalars(scored, "ReconstructionError");

        var weights = Model.Weights;
        var s = weights.Standardization!;
        using var network = new VaeNetwork(weights.InputDim, weights.HiddenDim, weights.LatentDim);
        network.Load(weights);
        using var _ = no_grad();
        var standardized = rows.SelectMany(r => r.Select((v, j) => (v - s.Mean[j]) / s.Scale[j])).ToArray();
        using var x = tensor(standardized, new long[] { rows.Length, weights.InputDim });
        var (torchMu, torchLogVar) = network.Encode(x);
        using var decoded = network.Decode(torchMu);
        var torchReconstruction = decoded.data<float>().ToArray();

        double maxMu = MaxAbsDiff(mu, torchMu.data<float>().ToArray());
        double maxLogVar = MaxAbsDiff(logVar, torchLogVar.data<float>().ToArray());
        var original = torchReconstruction.Select((v, i) => v * s.Scale[i % weights.InputDim] + s.Mean[i % weights.InputDim]).ToArray();
        double maxReconstruction = MaxAbsDiff(reconstruction, original);
        Assert.True(maxMu <= 1e-5, $"mu differs by {maxMu}");
        Assert.True(maxLogVar <= 1e-5, $"logvar differs by {maxLogVar}");
        Assert.True(maxReconstruction <= 1e-5, $"reconstruction differs by {maxReconstruction}");

        for (int i = 0; i < rows.Length; i++)
        {
            double expected = rows[i].Zip(reconstruction[i], (a, b) => (double)(a - b) * (a - b)).Average();
            Assert.Equal(expected, error[i], 1e-5 * Math.Max(1, expected));
        }
    }

    [Fact]
    public void PredictionEngineEqualsTransformRowForRow()
    {
        var batch = Ml.Data.CreateEnumerable<ScoredRow>(Model.Transform(trained.Data), reuseRowObject: false).ToList();
        var inputs = Ml.Data.CreateEnumerable<InputRow>(trained.Data, reuseRowObject: false).ToList();
        using var engine = Ml.Model.CreatePredictionEngine<InputRow, ScoredRow>(Model);
        for (int i = 0; i < inputs.Count; i++)
        {
            var single = engine.Predict(inputs[i]);
            AssertClose(batch[i].Mu, single.Mu, $"row {i} Mu");
            AssertClose(batch[i].LogVar, single.LogVar, $"row {i} LogVar");
            AssertClose(batch[i].Reconstruction, single.Reconstruction, $"row {i} Reconstruction");
            AssertClose(new[] { batch[i].ReconstructionError }, new[] { single.ReconstructionError }, $"row {i} error");
        }
    }

    [Fact]
    public void ParallelCursorsGiveTheSameRowsAsOneCursor()
    {
        var cached = Ml.Data.Cache(trained.Data);
        var scored = Model.Transform(cached);
        var columns = new[] { scored.Schema["Mu"], scored.Schema["ReconstructionError"] };

        var single = Collect(new[] { scored.GetRowCursor(columns) });
        var parallel = Collect(scored.GetRowCursorSet(columns, 4));
        Assert.Equal(615, single.Count);
        Assert.Equal(single.Keys.OrderBy(k => k), parallel.Keys.OrderBy(k => k));
        foreach (var (id, (mu, error)) in single)
        {
            AssertClose(mu, parallel[id].Mu, $"row {id} Mu");
            AssertClose(new[] { error }, new[] { parallel[id].Error }, $"row {id} error");
        }

        static Dictionary<DataViewRowId, (float[] Mu, float Error)> Collect(DataViewRowCursor[] cursors)
        {
            var result = new Dictionary<DataViewRowId, (float[], float)>();
            Parallel.ForEach(cursors, cursor =>
            {
                using (cursor)
                {
                    var id = cursor.GetIdGetter();
                    var mu = cursor.GetGetter<VBuffer<float>>(cursor.Schema["Mu"]);
                    var error = cursor.GetGetter<float>(cursor.Schema["ReconstructionError"]);
                    DataViewRowId rowId = default;
                    VBuffer<float> muValue = default;
                    float errorValue = 0;
                    while (cursor.MoveNext())
                    {
                        id(ref rowId);
                        mu(ref muValue);
                        error(ref errorValue);
                        lock (result) result.Add(rowId, (muValue.DenseValues().ToArray(), errorValue));
                    }
                }
            });
            return result;
        }
    }

    [Fact]
    public void PassThroughColumnsAreUntouchedAndOutputsHaveTheDeclaredTypes()
    {
        var scored = Model.Transform(trained.Data);
        Assert.Equal(TestData.ReadScalars(trained.Data, "Label"), TestData.ReadScalars(scored, "Label"));
        Assert.Equal(TestData.ReadVectors(trained.Data, "Features"), TestData.ReadVectors(scored, "Features"));
        Assert.Equal(new VectorDataViewType(NumberDataViewType.Single, 6), scored.Schema["Mu"].Type);
        Assert.Equal(new VectorDataViewType(NumberDataViewType.Single, 6), scored.Schema["LogVar"].Type);
        Assert.Equal(new VectorDataViewType(NumberDataViewType.Single, 768), scored.Schema["Reconstruction"].Type);
        Assert.Equal(NumberDataViewType.Single, scored.Schema["ReconstructionError"].Type);
        Assert.Equal(trained.Data.GetRowCount(), scored.GetRowCount());
        Assert.Equal(615, TestData.ReadScalars(scored, "ReconstructionError").Length);
    }

    [Fact]
    public void OnlyTheEncoderRunsWhenNoDecoderOutputIsRead()
    {
        var scored = Model.Transform(trained.Data);
        long before = VaeOnnxScorerCounters();
        TestData.ReadVectors(scored, "Mu");
        Assert.Equal(0, VaeOnnxScorerCounters() - before);
        TestData.ReadScalars(scored, "ReconstructionError");
        Assert.True(VaeOnnxScorerCounters() - before > 0);

        long VaeOnnxScorerCounters() => MLNetVae.Scoring.VaeOnnxScorer.DecoderRuns;
    }

    [Fact]
    public void ThePredictionEngineDisposingTheModelDoesNotBreakIt()
    {
        var input = Ml.Data.CreateEnumerable<InputRow>(trained.Data, reuseRowObject: false).First();
        float first;
        using (var engine = Ml.Model.CreatePredictionEngine<InputRow, ScoredRow>(Model)) // ML.NET disposes the model here
            first = engine.Predict(input).ReconstructionError;
        Assert.Equal(first, TestData.ReadScalars(Model.Transform(trained.Data), "ReconstructionError")[0], 1e-5f * first);
    }

    [Fact]
    public void TransformIsLazy()
    {
        long before = MLNetVae.Scoring.VaeOnnxScorer.EncoderRuns;
        var scored = Model.Transform(trained.Data);
        Assert.Equal(before, MLNetVae.Scoring.VaeOnnxScorer.EncoderRuns);
        Assert.Equal("Mu", scored.Schema["Mu"].Name);
    }

    [Fact]
    public void WrongVectorSizeAtScoringNamesTheColumnAndBothSizes()
    {
        var data = TestData.Random(Ml, rows: 10, width: 700, seed: 1);
        var ex = Assert.Throws<ArgumentOutOfRangeException>(() => Model.Transform(data));
        Assert.Contains("'Features' has 700 features", ex.Message);
        Assert.Contains("trained on 768", ex.Message);
    }

    [Fact]
    public void NonFiniteInputGivesNaNOutputsForThatRowOnly()
    {
        var rows = TestData.ReadVectors(trained.Data, "Features").Take(5).ToArray();
        rows[2][10] = float.NaN;
        rows[3][0] = float.PositiveInfinity;
        var error = TestData.ReadScalars(Model.Transform(TestData.FromArrays(Ml, rows)), "ReconstructionError");
        Assert.True(float.IsNaN(error[2]));
        Assert.True(float.IsNaN(error[3]));
        Assert.All(new[] { error[0], error[1], error[4] }, e => Assert.True(float.IsFinite(e)));
    }

    [Fact]
    public void SparseInputScoresLikeItsDenseEquivalent()
    {
        var dense = TestData.ReadVectors(trained.Data, "Features").Take(3).Select(r => r.Select((v, j) => j % 7 == 0 ? v : 0f).ToArray()).ToArray();
        var sparseData = Ml.Data.LoadFromEnumerable(dense.Select(r => new SparseRow { Features = ToSparse(r) }).ToList(), SparseRow.Schema());
        var fromSparse = TestData.ReadVectors(Model.Transform(sparseData), "Mu");
        var fromDense = TestData.ReadVectors(Model.Transform(TestData.FromArrays(Ml, dense)), "Mu");
        for (int i = 0; i < 3; i++)
            AssertClose(fromDense[i], fromSparse[i], $"row {i}");

        static VBuffer<float> ToSparse(float[] row)
        {
            var indices = Enumerable.Range(0, row.Length).Where(j => row[j] != 0).ToArray();
            return new VBuffer<float>(row.Length, indices.Length, indices.Select(j => row[j]).ToArray(), indices);
        }
    }

    public sealed class SparseRow
    {
        public VBuffer<float> Features { get; set; }

        public static SchemaDefinition Schema()
        {
            var definition = SchemaDefinition.Create(typeof(SparseRow));
            definition[nameof(Features)].ColumnType = new VectorDataViewType(NumberDataViewType.Single, 768);
            return definition;
        }
    }

    [Fact]
    public void ExportedOnnxFilesScoreLikeTheTransformerAndAreNotOverwrittenSilently()
    {
        var folder = Directory.CreateTempSubdirectory("mlnetvae-export-");
        try
        {
            var encoderPath = Path.Combine(folder.FullName, "encoder.onnx");
            var decoderPath = Path.Combine(folder.FullName, "decoder.onnx");
            Model.ExportOnnx(encoderPath, decoderPath);

            var rows = TestData.ReadVectors(trained.Data, "Features").Take(50).ToArray();
            var input = new float[rows.Length, 768];
            for (int i = 0; i < rows.Length; i++)
                for (int j = 0; j < 768; j++)
                    input[i, j] = rows[i][j];
            using var encoder = new InferenceSession(encoderPath);
            var mu = OrtTestRunner.Run(encoder, "features", input, "mu")["mu"];
            var expected = TestData.ReadVectors(Model.Transform(TestData.FromArrays(Ml, rows)), "Mu");
            for (int i = 0; i < rows.Length; i++)
                AssertClose(expected[i], OrtTestRunner.Row(mu, i), $"row {i}");

            var before = File.ReadAllBytes(encoderPath);
            File.WriteAllText(decoderPath, "my own file");
            var ex = Assert.Throws<IOException>(() => Model.ExportOnnx(encoderPath, decoderPath));
            Assert.Contains("already exists", ex.Message);
            Assert.Equal("my own file", File.ReadAllText(decoderPath));
            Model.ExportOnnx(encoderPath, decoderPath, overwrite: true);
            Assert.Equal(before, File.ReadAllBytes(encoderPath));
            Assert.NotEqual("my own file", File.ReadAllText(decoderPath));
            Assert.Equal(2, folder.GetFiles().Length); // no temporary files left behind
        }
        finally
        {
            folder.Delete(recursive: true);
        }
    }

    private static double MaxAbsDiff(float[][] rows, float[] flat)
    {
        double max = 0;
        int width = rows[0].Length;
        for (int i = 0; i < rows.Length; i++)
            for (int j = 0; j < width; j++)
                max = Math.Max(max, Math.Abs(rows[i][j] - flat[i * width + j]));
        return max;
    }

    // One-row and many-row GEMMs may sum in a different order: equal up to float32 rounding.
    private static void AssertClose(float[] expected, float[] actual, string what)
    {
        Assert.Equal(expected.Length, actual.Length);
        for (int j = 0; j < expected.Length; j++)
        {
            float tolerance = 1e-5f * Math.Max(1f, Math.Abs(expected[j]));
            Assert.True(Math.Abs(expected[j] - actual[j]) <= tolerance, $"{what}[{j}]: {expected[j]:R} vs {actual[j]:R}");
        }
    }
}
