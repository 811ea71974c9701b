using System.Numerics.Tensors;
using Microsoft.ML;
using Microsoft.ML.Data;
using Microsoft.ML.OnnxRuntime;
using MLNetVae.Onnx;
using MLNetVae.Tests.TestSupport;
using Xunit.Abstractions;

namespace MLNetVae.Tests.Scoring;

/// <summary>
/// <see cref="VaeScoringPrecision.Int8"/> on real data (the shipped 20news embeddings and ODDS cardio): outputs within the
/// quantization error of float32, each row's outputs independent of the rows scored with it, the precision kept by
/// saved models and exported files, and the detector's scores still a number that rises for far-out rows.
/// </summary>
public sealed class Int8ScoringTests : IClassFixture<Int8ScoringTests.Trained>, IDisposable
{
    public sealed class Trained : IDisposable
    {
        public Trained()
        {
            Ml = new MLContext(seed: 1);
            News = Ml.Data.Cache(TestData.LoadLabelledCsv(Ml, TestData.NewsEmbeddingsCsv));
            Float32 = Ml.Transforms.VariationalAutoencoder(new VaeOptions
            {
                HiddenDim = 64, LatentDim = 8, Epochs = 5, BatchSize = 64, NumberOfThreads = 2, Seed = 3,
            }).Fit(News);
            Int8 = Float32.WithScoringPrecision(VaeScoringPrecision.Int8);
            Cardio = Ml.Data.Cache(TestData.LoadLabelledCsv(Ml, CardioCsv));
            Detector = Ml.AnomalyDetection.Trainers.VariationalAutoencoder(new VaeAnomalyOptions { Epochs = 20, NumberOfThreads = 2, Seed = 1 }).Fit(Cardio);
        }

        public MLContext Ml { get; }
        public IDataView News { get; }
        public VaeTransformer Float32 { get; }
        public VaeTransformer Int8 { get; }
        public IDataView Cardio { get; }
        public VaeAnomalyTransformer Detector { get; }

        public void Dispose()
        {
            Float32.Dispose();
            Int8.Dispose();
            Detector.Dispose();
        }
    }

    private readonly Trained trained;
    private readonly ITestOutputHelper output;
    private readonly string folder = Directory.CreateTempSubdirectory("mlnetvae-int8-").FullName;

    public Int8ScoringTests(Trained trained, ITestOutputHelper output)
    {
        this.trained = trained;
        this.output = output;
    }

    public void Dispose() => Directory.Delete(folder, recursive: true);

    private static string CardioCsv => Path.Combine(AppContext.BaseDirectory, "TestData", "odds", "cardio.csv");

    private MLContext Ml => trained.Ml;

    [Fact]
    public void Int8OutputsAreWithinTheQuantizationErrorOfFloat32()
    {
        Assert.Equal(VaeScoringPrecision.Float32, trained.Float32.ScoringPrecision);
        Assert.Equal(VaeScoringPrecision.Int8, trained.Int8.ScoringPrecision);
        var f32 = trained.Float32.Transform(trained.News);
        var i8 = trained.Int8.Transform(trained.News);
        var (mu32, mu8) = (TestData.ReadVectors(f32, "Mu"), TestData.ReadVectors(i8, "Mu"));
        var (lv32, lv8) = (TestData.ReadVectors(f32, "LogVar"), TestData.ReadVectors(i8, "LogVar"));
        var (err32, err8) = (TestData.ReadScalars(f32, "ReconstructionError"), TestData.ReadScalars(i8, "ReconstructionError"));
        var (rec32, rec8) = (TestData.ReadVectors(f32, "Reconstruction"), TestData.ReadVectors(i8, "Reconstruction"));

        var muCosine = mu32.Zip(mu8, (a, b) => (double)TensorPrimitives.CosineSimilarity<float>(a, b)).ToArray();
        var recCosine = rec32.Zip(rec8, (a, b) => (double)TensorPrimitives.CosineSimilarity<float>(a, b)).ToArray();
        var logVarDifferences = lv32.Zip(lv8, (a, b) => a.Zip(b, (x, y) => Math.Abs(x - y))).SelectMany(d => d).ToArray();
        double logVarDifference = logVarDifferences.Max(), meanLogVarDifference = logVarDifferences.Average();
        var errorDifference = err32.Zip(err8, (a, b) => Math.Abs(a - b) / a).OrderBy(d => d).ToArray();
        output.WriteLine($"Mu cosine mean {muCosine.Average():F6} min {muCosine.Min():F6}; reconstruction cosine min {recCosine.Min():F6}; " +
            $"logvar |diff| mean {meanLogVarDifference:G3} max {logVarDifference:G3}; error relative diff median {errorDifference[errorDifference.Length / 2]:G3} max {errorDifference[^1]:G3}");

        Assert.All(mu8.Concat(lv8).Concat(rec8).SelectMany(v => v).Concat(err8), v => Assert.True(float.IsFinite(v)));
        Assert.True(muCosine.Average() >= 0.999, $"mean cosine of Mu {muCosine.Average():F6}");
        Assert.True(muCosine.Min() >= 0.99, $"min cosine of Mu {muCosine.Min():F6}");
        Assert.True(recCosine.Min() >= 0.999, $"min cosine of the reconstruction {recCosine.Min():F6}");
        Assert.True(errorDifference[errorDifference.Length / 2] < 0.01, $"median relative error difference {errorDifference[errorDifference.Length / 2]:G3}");
        Assert.True(errorDifference[^1] < 0.05, $"largest relative error difference {errorDifference[^1]:G3}");
        // log σ² errs in absolute terms (0.1 is σ within 5%): its largest values are quantized like the others.
        Assert.True(meanLogVarDifference < 0.02, $"mean logvar difference {meanLogVarDifference:G3}");
        Assert.True(logVarDifference < 0.25, $"largest logvar difference {logVarDifference:G3}");
        // And it is a different computation: were the graphs float32, every output would be equal.
        Assert.NotEqual(err32, err8);
    }

    [Fact]
    public void AnInt8RowScoresTheSameWhateverItIsScoredWith()
    {
        var rows = TestData.ReadVectors(trained.News, "Features").Take(200).ToArray();
        // The same rows with one row a thousand times larger among them: with one activation scale per batch, that row
        // would coarsen every other row of its block.
        var withExtreme = rows.Select((r, i) => i == 17 ? r.Select(v => v * 1000).ToArray() : r).ToArray();
        var alone = Scores(rows, blockSize: 1);
        var blocked = Scores(rows, blockSize: 64);
        var beside = Scores(withExtreme, blockSize: 1024);
        using var engine = Ml.Model.CreatePredictionEngine<TestData.VectorRow, Output>(trained.Int8,
            new PredictionEngineOptions { OwnsTransformer = false, InputSchemaDefinition = SchemaWith(rows[0].Length) });
        for (int i = 0; i < rows.Length; i++)
        {
            Assert.Equal(alone.Mu[i], blocked.Mu[i]);
            Assert.Equal(alone.Error[i], blocked.Error[i]);
            var predicted = engine.Predict(new TestData.VectorRow { Features = rows[i] });
            Assert.Equal(alone.Mu[i], predicted.Mu);
            Assert.Equal(alone.Error[i], predicted.ReconstructionError);
            if (i == 17)
                continue;
            Assert.Equal(alone.Mu[i], beside.Mu[i]);
            Assert.Equal(alone.Error[i], beside.Error[i]);
        }
        Assert.True(beside.Error[17] > 100 * alone.Error[17], $"the extreme row scores {beside.Error[17]:G4}, the row itself {alone.Error[17]:G4}");
    }

    public sealed class Output
    {
        public float[] Mu { get; set; } = [];
        public float ReconstructionError { get; set; }
    }

    private static SchemaDefinition SchemaWith(int width)
    {
        var schema = SchemaDefinition.Create(typeof(TestData.VectorRow));
        schema[nameof(TestData.VectorRow.Features)].ColumnType = new VectorDataViewType(NumberDataViewType.Single, width);
        return schema;
    }

    private (float[][] Mu, float[] Error) Scores(float[][] rows, int blockSize)
    {
        var scored = trained.Int8.TransformWithBlockSize(TestData.FromArrays(Ml, rows), blockSize);
        return (TestData.ReadVectors(scored, "Mu"), TestData.ReadScalars(scored, "ReconstructionError"));
    }

    [Fact]
    public void ASavedInt8ModelLoadsAsInt8AndScoresTheSame()
    {
        string path = Path.Combine(folder, "int8.zip");
        Ml.Model.Save(trained.Int8, trained.News.Schema, path);
        using var loaded = new MLContext(seed: 2).Model.LoadVaeTransformer(path);
        Assert.Equal(VaeScoringPrecision.Int8, loaded.ScoringPrecision);
        Assert.Equal(VaeScoringPrecision.Int8, loaded.Options.ScoringPrecision);
        Assert.Equal(TestData.ReadScalars(trained.Int8.Transform(trained.News), "ReconstructionError"),
            TestData.ReadScalars(loaded.Transform(trained.News), "ReconstructionError"));
        Assert.Equal(TestData.ReadVectors(trained.Int8.Transform(trained.News), "Mu"), TestData.ReadVectors(loaded.Transform(trained.News), "Mu"));

        // Back to float32: exactly the float32 model's outputs (the weights are the float32 ones).
        using var back = loaded.WithScoringPrecision(VaeScoringPrecision.Float32);
        Assert.Equal(TestData.ReadScalars(trained.Float32.Transform(trained.News), "ReconstructionError"),
            TestData.ReadScalars(back.Transform(trained.News), "ReconstructionError"));
    }

    [Fact]
    public void ExportedInt8FilesRunInOnnxRuntimeAndGiveTheTransformersOutputs()
    {
        string encoderPath = Path.Combine(folder, "encoder.onnx"), decoderPath = Path.Combine(folder, "decoder.onnx");
        trained.Int8.ExportOnnx(encoderPath, decoderPath);
        var encoderModel = global::Onnx.ModelProto.Parser.ParseFrom(File.ReadAllBytes(encoderPath));
        Assert.Contains(encoderModel.MetadataProps, p => p.Key == "mlnetvae.scoring_precision" && p.Value == "int8");
        Assert.Contains(encoderModel.Graph.Initializer, t => t.DataType == (int)global::Onnx.TensorProto.Types.DataType.Int8);
        Assert.Contains(encoderModel.OpsetImport, o => o.Domain == OnnxGraphBuilder.MicrosoftDomain);
        // The float32 export stays plain ONNX: no int8 weights, no ONNX Runtime operators.
        string floatEncoder = Path.Combine(folder, "encoder32.onnx"), floatDecoder = Path.Combine(folder, "decoder32.onnx");
        trained.Float32.ExportOnnx(floatEncoder, floatDecoder);
        var float32Model = global::Onnx.ModelProto.Parser.ParseFrom(File.ReadAllBytes(floatEncoder));
        Assert.DoesNotContain(float32Model.OpsetImport, o => o.Domain == OnnxGraphBuilder.MicrosoftDomain);
        Assert.Contains(float32Model.MetadataProps, p => p.Key == "mlnetvae.scoring_precision" && p.Value == "float32");

        var rows = TestData.ReadVectors(trained.News, "Features").Take(50).ToArray();
        var input = new float[rows.Length, rows[0].Length];
        for (int i = 0; i < rows.Length; i++)
            for (int j = 0; j < rows[0].Length; j++)
                input[i, j] = rows[i][j];
        using var encoder = new InferenceSession(encoderPath);
        var mu = OrtTestRunner.Run(encoder, VaeOnnxNames.EncoderInput, input, VaeOnnxNames.EncoderMean)[VaeOnnxNames.EncoderMean];
        using var decoder = new InferenceSession(decoderPath);
        var reconstruction = OrtTestRunner.Run(decoder, VaeOnnxNames.DecoderInput, mu, VaeOnnxNames.DecoderOutput)[VaeOnnxNames.DecoderOutput];

        var scored = trained.Int8.Transform(TestData.FromArrays(Ml, rows));
        var expectedMu = TestData.ReadVectors(scored, "Mu");
        var expectedReconstruction = TestData.ReadVectors(scored, "Reconstruction");
        for (int i = 0; i < rows.Length; i++)
        {
            Assert.Equal(expectedMu[i], OrtTestRunner.Row(mu, i));
            Assert.Equal(expectedReconstruction[i], OrtTestRunner.Row(reconstruction, i));
        }
    }

    [Fact]
    public void AnInt8DetectorRanksAsTheFloat32OneAndKeepsItsThreshold()
    {
        var detector = trained.Detector;
        using var int8 = detector.WithScoringPrecision(VaeScoringPrecision.Int8);
        Assert.Equal(VaeScoringPrecision.Int8, int8.ScoringPrecision);
        Assert.Equal(VaeScoringPrecision.Int8, int8.Vae.ScoringPrecision);
        Assert.Equal(VaeScoringPrecision.Float32, detector.ScoringPrecision);
        Assert.Equal(detector.Threshold, int8.Threshold);
        Assert.Equal(detector.CalibrationScores, int8.CalibrationScores);

        double auc32 = Ml.AnomalyDetection.Evaluate(detector.Transform(trained.Cardio)).AreaUnderRocCurve;
        double auc8 = Ml.AnomalyDetection.Evaluate(int8.Transform(trained.Cardio)).AreaUnderRocCurve;
        var s32 = TestData.ReadScalars(detector.Transform(trained.Cardio), "Score");
        var s8 = TestData.ReadScalars(int8.Transform(trained.Cardio), "Score");
        double relative = s32.Zip(s8, (a, b) => Math.Abs(a - b) / Math.Abs(a)).Average();
        output.WriteLine($"cardio ROC-AUC float32 {auc32:F4}, int8 {auc8:F4}; mean relative score difference {relative:G3}");
        Assert.True(Math.Abs(auc32 - auc8) <= 0.005, $"ROC-AUC float32 {auc32:F4}, int8 {auc8:F4}");
        Assert.True(relative < 0.02, $"mean relative score difference {relative:G3}");
        Assert.NotEqual(s32, s8);

        // Saved and loaded, the detector is int8 again.
        string path = Path.Combine(folder, "detector.zip");
        Ml.Model.Save(int8, trained.Cardio.Schema, path);
        var loaded = (VaeAnomalyTransformer)new MLContext(seed: 3).Model.LoadWithFastVae(path, out _);
        using (loaded)
        {
            Assert.Equal(VaeScoringPrecision.Int8, loaded.ScoringPrecision);
            Assert.Equal(s8, TestData.ReadScalars(loaded.Transform(trained.Cardio), "Score"));
        }
    }

    [Fact]
    public void ADetectorFittedForInt8SetsItsThresholdOnInt8Scores()
    {
        using var detector = Ml.AnomalyDetection.Trainers.VariationalAutoencoder(new VaeAnomalyOptions
        {
            Epochs = 3, NumberOfThreads = 2, Seed = 4, ScoringPrecision = VaeScoringPrecision.Int8,
        }).Fit(trained.Cardio);
        Assert.Equal(VaeScoringPrecision.Int8, detector.ScoringPrecision);
        var scores = TestData.ReadScalars(detector.Transform(trained.Cardio), "Score");
        Array.Sort(scores);
        Assert.Equal(scores, detector.TrainingScores);
        using var float32 = detector.WithScoringPrecision(VaeScoringPrecision.Float32);
        var floatScores = TestData.ReadScalars(float32.Transform(trained.Cardio), "Score");
        Array.Sort(floatScores);
        Assert.NotEqual(floatScores, detector.TrainingScores);
    }

    [Fact]
    public void FarOutRowsScoreANumberAndRiseUnderInt8()
    {
        using var int8 = trained.Detector.WithScoringPrecision(VaeScoringPrecision.Int8);
        var baseRow = TestData.ReadVectors(trained.Cardio, "Features")[0];
        var magnitudes = Enumerable.Range(2, 29).Select(e => (float)Math.Pow(10, e)).ToArray(); // 1e2 … 1e30
        var probes = new List<float[]>();
        foreach (int feature in new[] { 0, 7, 20 })
            foreach (float sign in new[] { 1f, -1f })
                foreach (float magnitude in magnitudes)
                {
                    var row = (float[])baseRow.Clone();
                    row[feature] = sign * magnitude;
                    probes.Add(row);
                }
        var scores = TestData.ReadScalars(int8.Transform(TestData.FromArrays(Ml, probes.ToArray())), "Score");
        for (int i = 0; i < probes.Count; i++)
        {
            Assert.False(float.IsNaN(scores[i]), $"probe {i} scored NaN");
            Assert.True(scores[i] > int8.Threshold, $"probe {i} scored {scores[i]:G6}, not above the threshold {int8.Threshold:G6}");
            if (i % magnitudes.Length > 0)
                Assert.True(scores[i] >= scores[i - 1], $"probe {i} scored {scores[i]:G6}, below the milder {scores[i - 1]:G6}");
        }
    }

    [Fact]
    public void AnUnknownPrecisionIsRefusedNamingTheOption()
    {
        var options = new VaeOptions { ScoringPrecision = (VaeScoringPrecision)7 };
        var ex = Assert.Throws<ArgumentOutOfRangeException>(() => Ml.Transforms.VariationalAutoencoder(options));
        Assert.Contains("VaeOptions.ScoringPrecision", ex.Message);
        Assert.Contains("Float32, Int8", ex.Message);
        var detectorOptions = new VaeAnomalyOptions { ScoringPrecision = (VaeScoringPrecision)(-1) };
        ex = Assert.Throws<ArgumentOutOfRangeException>(() => Ml.AnomalyDetection.Trainers.VariationalAutoencoder(detectorOptions));
        Assert.Contains("VaeAnomalyOptions.ScoringPrecision", ex.Message);
        ex = Assert.Throws<ArgumentOutOfRangeException>(() => trained.Float32.WithScoringPrecision((VaeScoringPrecision)2));
        Assert.Contains("Float32, Int8", ex.Message);
    }
}
