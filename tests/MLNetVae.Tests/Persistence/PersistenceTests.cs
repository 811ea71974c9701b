using System.IO.Compression;
using Microsoft.ML;
using Microsoft.ML.Data;
using MLNetVae.Tests.TestSupport;

namespace MLNetVae.Tests.Persistence;

/// <summary>Save/Load of pipelines containing the VAE: outputs, the fast path back, format checks and safe writes.</summary>
public class PersistenceTests : IClassFixture<PersistenceTests.Trained>, IDisposable
{
    public sealed class Trained : IDisposable
    {
        public Trained()
        {
            var ml = new MLContext(seed: 1);
            Data = ml.Data.Cache(TestData.LoadLabelledCsv(ml, TestData.NewsEmbeddingsCsv));
            Pipeline = ml.Transforms.NormalizeMeanVariance("Features")
                .Append(ml.Transforms.VariationalAutoencoder(new VaeOptions
                {
                    HiddenDim = 32, LatentDim = 5, Epochs = 3, BatchSize = 64, NumberOfThreads = 2, Seed = 2,
                    MuColumnName = "Latent",
                }))
                .Append(ml.Transforms.Conversion.MapValueToKey("LabelKey", "Label"))
                .Append(ml.MulticlassClassification.Trainers.SdcaMaximumEntropy("LabelKey", "Latent", maximumNumberOfIterations: 10))
                .Fit(Data);
            Ml = ml;
        }

        public MLContext Ml { get; }
        public IDataView Data { get; }
        public ITransformer Pipeline { get; }

        public void Dispose() { }
    }

    private readonly Trained trained;
    private readonly DirectoryInfo folder = Directory.CreateTempSubdirectory("mlnetvae-persist-");

    public PersistenceTests(Trained trained) => this.trained = trained;

    public void Dispose() => folder.Delete(recursive: true);

    private string PathOf(string name) => Path.Combine(folder.FullName, name);

    private string SavePipeline()
    {
        var path = PathOf("pipeline.zip");
        trained.Ml.Model.Save(trained.Pipeline, trained.Data.Schema, path);
        return path;
    }

    private static (float[][] Latent, float[] Error, float[][] Scores) Outputs(ITransformer model, IDataView data)
    {
        var scored = model.Transform(data);
        return (TestData.ReadVectors(scored, "Latent"), TestData.ReadScalars(scored, "ReconstructionError"), TestData.ReadVectors(scored, "Score"));
    }

    [Fact]
    public void PlainModelLoadInAFreshContextMatchesWithinFloat32Rounding()
    {
        var path = SavePipeline();
        var fresh = new MLContext(seed: 99);
        fresh.RegisterVaeComponents();
        var loaded = fresh.Model.Load(path, out var schema);
        Assert.Equal(trained.Data.Schema.Select(c => c.Name), schema.Select(c => c.Name));

        var before = Outputs(trained.Pipeline, trained.Data);
        var after = Outputs(loaded, trained.Data);
        // ML.NET's chain scores one row per ONNX Runtime call, ours 1,024: equal up to float32 summation order.
        AssertClose(before.Latent, after.Latent, 1e-5f);
        AssertClose(new[] { before.Error }, new[] { after.Error }, 1e-5f);
        AssertClose(before.Scores, after.Scores, 1e-5f);
        var types = loaded.GetOutputSchema(schema);
        Assert.Equal(new VectorDataViewType(NumberDataViewType.Single, 5), types["Latent"].Type);
        Assert.Equal(NumberDataViewType.Single, types["ReconstructionError"].Type);
        Assert.DoesNotContain(types, c => c.Name.StartsWith("MLNetVae.", StringComparison.Ordinal));
    }

    [Fact]
    public void FastPathLoadIsBitIdenticalAndBringsBackOptionsAndReport()
    {
        var path = SavePipeline();
        var fresh = new MLContext(seed: 99);
        var loaded = fresh.Model.LoadWithFastVae(path, out _);
        Assert.Contains(Flatten(loaded), t => t is VaeTransformer);

        var before = Outputs(trained.Pipeline, trained.Data);
        var after = Outputs(loaded, trained.Data);
        Assert.Equal(before.Latent, after.Latent);
        Assert.Equal(before.Error, after.Error);
        Assert.Equal(before.Scores, after.Scores);

        using var vae = fresh.Model.LoadVaeTransformer(path);
        var original = Flatten(trained.Pipeline).OfType<VaeTransformer>().Single();
        Assert.Equal((768, 32, 5, true), (vae.InputDim, vae.HiddenDim, vae.LatentDim, vae.IsStandardized));
        Assert.Equal("Latent", vae.Options.MuColumnName);
        Assert.Equal(original.Options.LearningRate, vae.Options.LearningRate);
        Assert.Equal(original.TrainingReport!.Epochs, vae.TrainingReport!.Epochs);
        Assert.Equal(original.TrainingReport.BestEpoch, vae.TrainingReport.BestEpoch);

        // Re-exported ONNX is byte-identical to the original's export.
        using var e1 = new MemoryStream(); using var d1 = new MemoryStream();
        using var e2 = new MemoryStream(); using var d2 = new MemoryStream();
        original.ExportOnnx(e1, d1);
        vae.ExportOnnx(e2, d2);
        Assert.Equal(e1.ToArray(), e2.ToArray());
        Assert.Equal(d1.ToArray(), d2.ToArray());
    }

    [Fact]
    public void FastPathLoadKeepsEachStagesScope()
    {
        // A label stage marked TrainTest stays out of the scoring model after LoadWithFastVae, as after a plain Load
        // (before: every rebuilt chain's stages became Everything, and scoring data without a label failed).
        var ml = new MLContext(seed: 1);
        var rows = ml.Data.Cache(ml.Data.TakeRows(trained.Data, 200));
        var pipeline = new EstimatorChain<ITransformer>()
            .Append(ml.Transforms.Conversion.MapValueToKey("LabelKey", "Label"), TransformerScope.TrainTest)
            .Append(ml.Transforms.VariationalAutoencoder(new VaeOptions { HiddenDim = 8, LatentDim = 2, Epochs = 1, NumberOfThreads = 1, Seed = 1 }));
        var path = PathOf("scoped.zip");
        using (var model = pipeline.Fit(rows))
            ml.Model.Save(model, rows.Schema, path);

        var withoutLabel = ml.Transforms.DropColumns("Label").Fit(rows).Transform(rows);
        var plain = Assert.IsType<TransformerChain<ITransformer>>(ml.Model.Load(path, out _));
        var fast = Assert.IsType<TransformerChain<ITransformer>>(ml.Model.LoadWithFastVae(path, out _));
        Assert.Equal(plain.GetModelFor(TransformerScope.Scoring).Count(), fast.GetModelFor(TransformerScope.Scoring).Count());
        Assert.Single(fast.GetModelFor(TransformerScope.Scoring));
        Assert.Equal(2, fast.GetModelFor(TransformerScope.Training).Count());
        var errors = TestData.ReadScalars(fast.GetModelFor(TransformerScope.Scoring).Transform(withoutLabel), "ReconstructionError");
        Assert.Equal(200, errors.Length);
        (fast as IDisposable)?.Dispose();
    }

    [Fact]
    public void ACursorIsAtPositionMinusOneOnceItIsExhausted()
    {
        // The VAE's own cursor (the pipeline's later stages would wrap it in ML.NET's).
        var stages = ((IEnumerable<ITransformer>)trained.Pipeline).ToArray();
        var vae = stages.OfType<VaeTransformer>().Single();
        var scored = vae.Transform(stages[0].Transform(trained.Ml.Data.TakeRows(trained.Data, 3)));
        using var cursor = scored.GetRowCursor(scored.Schema);
        Assert.Equal(-1, cursor.Position);
        while (cursor.MoveNext())
            Assert.InRange(cursor.Position, 0, 2);
        Assert.Equal(-1, cursor.Position); // DataViewRow's contract, which wrapping cursors rely on
    }

    [Fact]
    public void AVaeSavedAloneRoundTrips()
    {
        var original = Flatten(trained.Pipeline).OfType<VaeTransformer>().Single();
        var normalized = Flatten(trained.Pipeline).First().Transform(trained.Data);
        var path = PathOf("vae.zip");
        trained.Ml.Model.Save(original, normalized.Schema, path);
        using var back = new MLContext().Model.LoadVaeTransformer(path);
        Assert.Equal(TestData.ReadScalars(original.Transform(normalized), "ReconstructionError"),
            TestData.ReadScalars(back.Transform(normalized), "ReconstructionError"));
    }

    [Fact]
    public void TruncatedCorruptedAndForeignFilesGiveAClearErrorNamingTheFile()
    {
        var path = SavePipeline();
        var bytes = File.ReadAllBytes(path);

        var truncated = PathOf("truncated.zip");
        File.WriteAllBytes(truncated, bytes[..(bytes.Length / 2)]);
        var ex = Assert.Throws<VaeModelFileException>(() => new MLContext().Model.LoadVaeTransformer(truncated));
        Assert.Equal(truncated, ex.FilePath);
        Assert.Contains("truncated.zip", ex.Message);
        Assert.Contains("not a readable ML.NET model zip", ex.Message);

        var text = PathOf("notes.txt");
        File.WriteAllText(text, "these are my notes, not a model");
        ex = Assert.Throws<VaeModelFileException>(() => new MLContext().Model.LoadWithFastVae(text, out _));
        Assert.Contains("notes.txt", ex.Message);

        var missing = PathOf("missing.zip");
        ex = Assert.Throws<VaeModelFileException>(() => new MLContext().Model.LoadVaeTransformer(missing));
        Assert.Contains("does not exist", ex.Message);

        // A valid ML.NET model without a VAE.
        var plain = PathOf("plain.zip");
        var ml = new MLContext();
        ml.Model.Save(ml.Transforms.NormalizeMinMax("Features").Fit(trained.Data), trained.Data.Schema, plain);
        ex = Assert.Throws<VaeModelFileException>(() => ml.Model.LoadVaeTransformer(plain));
        Assert.Contains("holds 0 VAEs", ex.Message);

        // Flip bytes inside the stored ONNX graph: the damage is detected, not loaded half-way.
        var damaged = PathOf("damaged.zip");
        File.Copy(path, damaged);
        using (var zip = ZipFile.Open(damaged, ZipArchiveMode.Update))
        {
            var entry = zip.Entries.Single(e => e.Name == "OnnxModel");
            byte[] content;
            using (var s = entry.Open()) { using var m = new MemoryStream(); s.CopyTo(m); content = m.ToArray(); }
            entry.Delete();
            var replacement = zip.CreateEntry(entry.FullName);
            using var w = replacement.Open();
            w.Write(content, 0, content.Length - 100); // drop the tail: the declared length no longer matches
        }
        ex = Assert.Throws<VaeModelFileException>(() => new MLContext().Model.LoadVaeTransformer(damaged));
        Assert.Contains("damaged", ex.Message);
    }

    [Fact]
    public void AFileFromANewerFormatIsRefusedWithTheVersions()
    {
        var path = SavePipeline();
        var newer = PathOf("newer.zip");
        File.Copy(path, newer);
        using (var zip = ZipFile.Open(newer, ZipArchiveMode.Update))
        {
            var entry = zip.Entries.Single(e => e.Name == "OnnxModel");
            byte[] content;
            using (var s = entry.Open()) { using var m = new MemoryStream(); s.CopyTo(m); content = m.ToArray(); }
            var model = global::Onnx.ModelProto.Parser.ParseFrom(content.AsSpan(4).ToArray());
            model.MetadataProps.Single(p => p.Key == "mlnetvae.format_version").Value = "7";
            var rewritten = Google.Protobuf.MessageExtensions.ToByteArray(model);
            entry.Delete();
            using var w = zip.CreateEntry(entry.FullName).Open();
            w.Write(BitConverter.GetBytes(rewritten.Length));
            w.Write(rewritten);
        }
        var ex = Assert.Throws<VaeModelFileException>(() => new MLContext().Model.LoadVaeTransformer(newer));
        Assert.Contains("format 7", ex.Message);
        Assert.Contains("reads format 2", ex.Message);
    }

    [Fact]
    public void SaveSafelyNeverOverwritesWithoutBeingAskedAndLeavesNoTemporaryFiles()
    {
        var path = PathOf("model.zip");
        File.WriteAllText(path, "precious");
        var ex = Assert.Throws<IOException>(() => trained.Ml.Model.SaveSafely(trained.Pipeline, trained.Data.Schema, path));
        Assert.Contains("already exists", ex.Message);
        Assert.Equal("precious", File.ReadAllText(path));

        trained.Ml.Model.SaveSafely(trained.Pipeline, trained.Data.Schema, path, overwrite: true);
        Assert.Single(folder.GetFiles());
        using var back = new MLContext().Model.LoadVaeTransformer(path);
        Assert.Equal(5, back.LatentDim);
    }

    [Fact]
    public void AFailingSaveLeavesTheExistingFileIntact()
    {
        var path = PathOf("model.zip");
        File.WriteAllText(path, "precious");
        var broken = new ThrowingTransformer();
        Assert.ThrowsAny<Exception>(() => trained.Ml.Model.SaveSafely(broken, trained.Data.Schema, path, overwrite: true));
        Assert.Equal("precious", File.ReadAllText(path));
        Assert.Single(folder.GetFiles());
    }

    private sealed class ThrowingTransformer : ITransformer
    {
        public bool IsRowToRowMapper => true;
        public DataViewSchema GetOutputSchema(DataViewSchema inputSchema) => inputSchema;
        public IRowToRowMapper GetRowToRowMapper(DataViewSchema inputSchema) => throw new NotSupportedException();
        public IDataView Transform(IDataView input) => input;
        void ICanSaveModel.Save(ModelSaveContext ctx) => throw new IOException("disk full (simulated)");
    }

    internal static IEnumerable<ITransformer> Flatten(ITransformer transformer) =>
        transformer is IEnumerable<ITransformer> chain ? chain.SelectMany(Flatten) : new[] { transformer };

    private static void AssertClose(float[][] expected, float[][] actual, float tolerance)
    {
        Assert.Equal(expected.Length, actual.Length);
        for (int i = 0; i < expected.Length; i++)
            for (int j = 0; j < expected[i].Length; j++)
                Assert.True(Math.Abs(expected[i][j] - actual[i][j]) <= tolerance * Math.Max(1, Math.Abs(expected[i][j])),
                    $"[{i}][{j}]: {expected[i][j]:R} vs {actual[i][j]:R}");
    }
}
