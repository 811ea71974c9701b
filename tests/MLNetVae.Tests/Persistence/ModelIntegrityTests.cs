using System.Globalization;
using Microsoft.ML;
using MLNetVae.Tests.TestSupport;

namespace MLNetVae.Tests.Persistence;

/// <summary>
/// Saved graphs carry a SHA-256 of their bytes: a model file whose VAE or detector graph changed by one byte is refused
/// by <c>LoadWithFastVae</c> and <c>LoadVaeTransformer</c> with <see cref="VaeModelFileException"/>, even when the zip
/// was rewritten with valid CRCs. Files of format 1 (saved by MLNetVae before checksums, shipped in
/// TestData/compat/format1 by scripts/compat/make-fixtures.sh) still load and score as the version that saved them did.
/// </summary>
public sealed class ModelIntegrityTests : IClassFixture<ModelIntegrityTests.Saved>, IDisposable
{
    /// <summary>A small VAE and detector trained on cardio, saved once.</summary>
    public sealed class Saved : IDisposable
    {
        public Saved()
        {
            var ml = new MLContext(seed: 1);
            Data = ml.Data.Cache(TestData.LoadLabelledCsv(ml, CardioCsv));
            using var vae = ml.Transforms.VariationalAutoencoder(new VaeOptions
            {
                HiddenDim = 32, LatentDim = 4, Epochs = 2, NumberOfThreads = 1, Seed = 1,
            }).Fit(Data);
            ml.Model.Save(vae, Data.Schema, VaePath);
            using var detector = ml.AnomalyDetection.Trainers.VariationalAutoencoder(new VaeAnomalyOptions
            {
                HiddenDim = 32, LatentDim = 4, Epochs = 2, NumberOfThreads = 1, Seed = 1, MonteCarloSamples = 3,
            }).Fit(Data);
            ml.Model.Save(detector, Data.Schema, DetectorPath);
        }

        public string Folder { get; } = Directory.CreateTempSubdirectory("mlnetvae-integrity-").FullName;
        public string VaePath => Path.Combine(Folder, "vae.zip");
        public string DetectorPath => Path.Combine(Folder, "detector.zip");
        public IDataView Data { get; }

        public void Dispose() => Directory.Delete(Folder, recursive: true);
    }

    private readonly Saved saved;
    private readonly string folder = Directory.CreateTempSubdirectory("mlnetvae-integrity-case-").FullName;

    public ModelIntegrityTests(Saved saved) => this.saved = saved;

    public void Dispose() => Directory.Delete(folder, recursive: true);

    private static string CardioCsv => Path.Combine(AppContext.BaseDirectory, "TestData", "odds", "cardio.csv");
    private static string Format1(string name) => Path.Combine(AppContext.BaseDirectory, "TestData", "compat", "format1", name);

    private static byte[] ReadGraph(string path) => ModelZip.ReadGraph(path);

    /// <summary>A copy of <paramref name="path"/> whose graph is <paramref name="graph"/>, zip rewritten with valid CRCs.</summary>
    private string WithGraph(string path, byte[] graph, string name)
    {
        string copy = Path.Combine(folder, name);
        File.Copy(path, copy, overwrite: true);
        ModelZip.ReplaceGraph(copy, graph);
        return copy;
    }

    /// <summary>Where the raw float32 data of initializer <paramref name="name"/> starts in <paramref name="graph"/>.</summary>
    private static int RawDataOffset(byte[] graph, string name)
    {
        var model = global::Onnx.ModelProto.Parser.ParseFrom(graph);
        var raw = model.Graph.Initializer.Single(t => t.Name == name).RawData.ToByteArray();
        int offset = graph.AsSpan().IndexOf(raw);
        Assert.True(offset > 0, $"raw data of {name} not found");
        return offset;
    }

    [Theory]
    [InlineData("vae")]
    [InlineData("detector")]
    public void AGraphChangedByOneByteAnywhereIsRefused(string kind)
    {
        string path = kind == "vae" ? saved.VaePath : saved.DetectorPath;
        var graph = ReadGraph(path);
        // 150 positions spread over the whole graph (nodes, weights, metadata, the checksum itself), the last byte, and
        // the exponent of the first encoder weight (the flip the issue found: -0.18 became -6e37 and loaded silently).
        var positions = Enumerable.Range(0, 150).Select(i => (int)((long)i * graph.Length / 150))
            .Append(graph.Length - 1).Append(RawDataOffset(graph, "encoder.0.weight") + 3).ToArray();
        foreach (int position in positions)
        {
            var changed = (byte[])graph.Clone();
            changed[position] ^= 0x40;
            string damaged = WithGraph(path, changed, $"{kind}-{position}.zip");
            var error = Assert.Throws<VaeModelFileException>(() => new MLContext().Model.LoadWithFastVae(damaged, out _));
            Assert.Equal(damaged, error.FilePath);
            Assert.Contains(Path.GetFileName(damaged), error.Message);
            if (kind == "vae")
                Assert.Throws<VaeModelFileException>(() => new MLContext().Model.LoadVaeTransformer(damaged));
        }

        // The unchanged graph, rewritten the same way, loads: the refusals above are the change's doing.
        using var intact = new MLContext().Model.LoadWithFastVae(WithGraph(path, graph, $"{kind}-intact.zip"), out _) as IDisposable;
        Assert.NotNull(intact);
    }

    [Fact]
    public void AFileChangedByOneByteAnywhereIsRefusedOrLoadsAsTheSameModel()
    {
        // A pipeline with a stage that is not a VAE (a min-max normalizer: its floats are in a zip entry of their own,
        // outside the VAE graph's SHA-256). The raw file, not a rewritten zip, is changed: the zip's CRCs stay as saved.
        var ml = new MLContext(seed: 1);
        var rows = ml.Data.Cache(ml.Data.TakeRows(saved.Data, 300));
        var pipeline = ml.Transforms.NormalizeMinMax("Features").Append(ml.Transforms.VariationalAutoencoder(new VaeOptions
        {
            HiddenDim = 8, LatentDim = 2, Epochs = 1, NumberOfThreads = 1, Seed = 1,
        }));
        string path = Path.Combine(folder, "normalized.zip");
        using (var model = pipeline.Fit(rows))
            ml.Model.Save(model, rows.Schema, path);
        var original = File.ReadAllBytes(path);
        var expected = ScoresOf(path);

        // The normalizer's entry: changed inside its compressed bytes, it is refused by its CRC (before this check it
        // loaded with other scale factors, or failed with a raw exception from inside ML.NET's stage constructor).
        var (dataStart, dataLength) = EntryData(original, "Transform_000/Normalizer_000/Model.key");
        var normalizerChanged = (byte[])original.Clone();
        normalizerChanged[dataStart + dataLength / 2] ^= 0x01;
        string damaged = Path.Combine(folder, "normalizer-changed.zip");
        File.WriteAllBytes(damaged, normalizerChanged);
        var error = Assert.Throws<VaeModelFileException>(() => new MLContext().Model.LoadWithFastVae(damaged, out _));
        Assert.Contains("does not match the checksum (CRC-32)", error.Message);

        // Anywhere else: refused, or (a byte zip readers do not read, such as a local header's copy of a name) the same model.
        int refused = 0;
        foreach (int position in Enumerable.Range(0, 200).Select(i => (int)((long)i * original.Length / 200)).Append(original.Length - 1))
        {
            var changed = (byte[])original.Clone();
            changed[position] ^= 0x10;
            string file = Path.Combine(folder, $"changed-{position}.zip");
            File.WriteAllBytes(file, changed);
            float[]? scores = null;
            try
            {
                scores = ScoresOf(file);
            }
            catch (VaeModelFileException)
            {
                refused++;
            }
            if (scores is not null)
                Assert.True(expected.SequenceEqual(scores), $"byte {position} of {original.Length} changed: the file loaded and scores differently");
        }
        Assert.True(refused > 150, $"only {refused} of 201 changed files were refused");
    }

    [Theory]
    [InlineData("producer")]
    [InlineData("part")]
    public void AGraphWhoseProducerOrPartChangedIsRefusedNotSkipped(string field)
    {
        // Changing the producer name or the graph part hides the graph from the checksum, which only MLNetVae's graphs
        // carry; LoadVaeTransformers then returned no VAE without an error.
        var model = global::Onnx.ModelProto.Parser.ParseFrom(ReadGraph(saved.VaePath));
        if (field == "producer")
            model.ProducerName = "MLNetVaf";
        else
            model.MetadataProps.Single(p => p.Key == "mlnetvae.part").Value = "mlnet-rox";
        string damaged = WithGraph(saved.VaePath, Google.Protobuf.MessageExtensions.ToByteArray(model), $"{field}.zip");
        var error = Assert.Throws<VaeModelFileException>(() => new MLContext().Model.LoadVaeTransformers(damaged));
        Assert.Contains("carries MLNetVae's metadata", error.Message);
        Assert.Throws<VaeModelFileException>(() => new MLContext().Model.LoadWithFastVae(damaged, out _));
    }

    /// <summary>Reconstruction errors of the first rows through <c>LoadWithFastVae</c> of <paramref name="path"/>.</summary>
    private float[] ScoresOf(string path)
    {
        var ml = new MLContext();
        var model = ml.Model.LoadWithFastVae(path, out _);
        try
        {
            return TestData.ReadScalars(model.Transform(ml.Data.TakeRows(saved.Data, 20)), "ReconstructionError");
        }
        finally
        {
            (model as IDisposable)?.Dispose();
        }
    }

    /// <summary>Where the stored (compressed) bytes of the zip entry whose name ends with <paramref name="nameEnd"/> lie in the raw file.</summary>
    private static (int Start, int Length) EntryData(byte[] zip, string nameEnd)
    {
        for (int at = 0; at + 30 < zip.Length; at++)
        {
            if (BitConverter.ToUInt32(zip, at) != 0x04034b50) // a local file header
                continue;
            int compressed = BitConverter.ToInt32(zip, at + 18);
            int nameLength = BitConverter.ToUInt16(zip, at + 26), extraLength = BitConverter.ToUInt16(zip, at + 28);
            string name = System.Text.Encoding.UTF8.GetString(zip, at + 30, nameLength);
            if (name.EndsWith(nameEnd, StringComparison.Ordinal))
            {
                Assert.True(compressed > 0, $"entry {name} has no stored size in its local header");
                return (at + 30 + nameLength + extraLength, compressed);
            }
        }
        throw new InvalidOperationException($"no entry ending in {nameEnd}");
    }

    [Fact]
    public void AWeightChangedToNaNIsAModelFileErrorNotAnArgumentException()
    {
        // Format 1 has no checksum; the weights themselves are still checked.
        var graph = ReadGraph(Format1("vae.zip"));
        int offset = RawDataOffset(graph, "decoder.2.weight");
        BitConverter.GetBytes(float.NaN).CopyTo(graph, offset);
        string damaged = WithGraph(Format1("vae.zip"), graph, "nan.zip");
        var error = Assert.Throws<VaeModelFileException>(() => new MLContext().Model.LoadVaeTransformer(damaged));
        Assert.Contains("NaN", error.Message);
        Assert.Throws<VaeModelFileException>(() => new MLContext().Model.LoadWithFastVae(damaged, out _));

        // In the current format the checksum catches it first.
        graph = ReadGraph(saved.VaePath);
        BitConverter.GetBytes(float.NaN).CopyTo(graph, RawDataOffset(graph, "decoder.2.weight"));
        error = Assert.Throws<VaeModelFileException>(() => new MLContext().Model.LoadVaeTransformer(WithGraph(saved.VaePath, graph, "nan2.zip")));
        Assert.Contains("checksum", error.Message);
    }

    [Fact]
    public void AVaeSavedByFormat1LoadsAndScoresAsTheVersionThatSavedIt()
    {
        var ml = new MLContext(seed: 3);
        using var vae = ml.Model.LoadVaeTransformer(Format1("vae.zip"));
        var scored = vae.Transform(ml.Data.TakeRows(saved.Data, 200));
        var errors = TestData.ReadScalars(scored, "ReconstructionError");
        var mu = TestData.ReadVectors(scored, "Mu");
        var expected = ReadTsv(Format1("vae-scores.tsv"));
        Assert.Equal(200, expected.Length);
        for (int i = 0; i < expected.Length; i++)
        {
            // The networks are the same bit for bit; the error's sum over features now runs in the score graph, in
            // another order than that version's C# loop: equal to the last float32 bits.
            Assert.Equal(expected[i][1..], mu[i]);
            Assert.True(Math.Abs(expected[i][0] - errors[i]) <= 1e-6 * Math.Abs(expected[i][0]), $"row {i}: {errors[i]} vs {expected[i][0]}");
        }

        // Saved again, it is written in the current format, with a checksum, and loads the same.
        string resaved = Path.Combine(folder, "resaved.zip");
        ml.Model.Save(vae, saved.Data.Schema, resaved);
        var model = global::Onnx.ModelProto.Parser.ParseFrom(ReadGraph(resaved));
        Assert.Equal("2", model.MetadataProps.Single(p => p.Key == "mlnetvae.format_version").Value);
        Assert.Equal("mlnetvae.sha256", model.MetadataProps[^1].Key);
        using var again = ml.Model.LoadVaeTransformer(resaved);
        Assert.Equal(errors, TestData.ReadScalars(again.Transform(ml.Data.TakeRows(saved.Data, 200)), "ReconstructionError"));
    }

    [Fact]
    public void ADetectorSavedByFormat1LoadsAsTheDetectorAndScoresAsTheVersionThatSavedIt()
    {
        var ml = new MLContext(seed: 3);
        using var detector = Assert.IsType<VaeAnomalyTransformer>(ml.Model.LoadWithFastVae(Format1("detector.zip"), out _));
        var scores = TestData.ReadScalars(detector.Transform(ml.Data.TakeRows(saved.Data, 200)), "Score");
        var expected = ReadTsv(Format1("detector-scores.tsv")).Select(r => r[0]).ToArray();
        // The same draws and networks; the sums (over features, draws and latent dimensions) now run in the score graph,
        // in float32 and another order than that version's C# loops.
        Assert.Equal(expected.Length, scores.Length);
        for (int i = 0; i < expected.Length; i++)
            Assert.True(Math.Abs(expected[i] - scores[i]) <= 1e-6 * Math.Max(1, Math.Abs(expected[i])), $"row {i}: {scores[i]} vs {expected[i]}");

        // ML.NET's own loader runs the format-1 graph as it was saved.
        ml.RegisterVaeComponents();
        var plain = ml.Model.Load(Format1("detector.zip"), out _);
        var plainScores = TestData.ReadScalars(plain.Transform(ml.Data.TakeRows(saved.Data, 200)), "Score");
        for (int i = 0; i < expected.Length; i++)
            Assert.True(Math.Abs(expected[i] - plainScores[i]) <= 1e-4 * Math.Max(1, Math.Abs(expected[i])), $"row {i}: {plainScores[i]} vs {expected[i]}");
    }

    private static float[][] ReadTsv(string path) =>
        File.ReadLines(path).Select(line => line.Split('\t').Select(v => float.Parse(v, CultureInfo.InvariantCulture)).ToArray()).ToArray();
}
