using Google.Protobuf;
using Microsoft.ML.OnnxRuntime;
using MLNetVae.Model;
using MLNetVae.Onnx;
using MLNetVae.Tests.TestSupport;
using Onnx;

namespace MLNetVae.Tests.Onnx;

public class VaeOnnxExporterTests
{
    private const int Rows = 1000;

    // float32 through three small layers vs. double: ~1e-6 in practice. Values in the original
    // scale of a standardized model reach ~100, so the bound is relative once |expected| > 1.
    private const double Tolerance = 1e-5;

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public void EncoderMatchesDoublePrecisionReference(bool standardized)
    {
        var w = OnnxTestModels.RandomWeights(seed: 1234, standardized);
        var x = OnnxTestModels.RandomFeatures(w, Rows, seed: 99);
        using var encoder = new InferenceSession(VaeOnnxExporter.ExportEncoder(w));

        var outputs = OrtTestRunner.Run(encoder, VaeOnnxNames.EncoderInput, x, VaeOnnxNames.EncoderMean, VaeOnnxNames.EncoderLogVariance);

        var mu = outputs[VaeOnnxNames.EncoderMean];
        var logVar = outputs[VaeOnnxNames.EncoderLogVariance];
        Assert.Equal(new[] { Rows, w.LatentDim }, Shape(mu));
        Assert.Equal(new[] { Rows, w.LatentDim }, Shape(logVar));
        for (int i = 0; i < Rows; i++)
        {
            var (refMu, refLogVar) = ReferenceVae.Encode(w, OrtTestRunner.Row(x, i));
            AssertClose(refMu, OrtTestRunner.Row(mu, i), $"mu row {i}");
            AssertClose(refLogVar, OrtTestRunner.Row(logVar, i), $"logvar row {i}");
        }
    }

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public void DecoderMatchesDoublePrecisionReference(bool standardized)
    {
        var w = OnnxTestModels.RandomWeights(seed: 1234, standardized);
        var z = OnnxTestModels.RandomMatrix(Rows, w.LatentDim, seed: 7, low: -3, high: 3);
        using var decoder = new InferenceSession(VaeOnnxExporter.ExportDecoder(w));

        var recon = OrtTestRunner.Run(decoder, VaeOnnxNames.DecoderInput, z, VaeOnnxNames.DecoderOutput)[VaeOnnxNames.DecoderOutput];

        Assert.Equal(new[] { Rows, w.InputDim }, Shape(recon));
        for (int i = 0; i < Rows; i++)
        {
            var zi = Array.ConvertAll(OrtTestRunner.Row(z, i), v => (double)v);
            AssertClose(ReferenceVae.Decode(w, zi), OrtTestRunner.Row(recon, i), $"reconstruction row {i}");
        }
    }

    /// <summary>The scoring path: decoder(encoder's mu), compared in the original feature scale.</summary>
    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public void DecoderOfEncoderMeanReconstructsInOriginalScale(bool standardized)
    {
        var w = OnnxTestModels.RandomWeights(seed: 4321, standardized);
        var x = OnnxTestModels.RandomFeatures(w, Rows, seed: 5);
        using var encoder = new InferenceSession(VaeOnnxExporter.ExportEncoder(w));
        using var decoder = new InferenceSession(VaeOnnxExporter.ExportDecoder(w));

        var mu = OrtTestRunner.Run(encoder, VaeOnnxNames.EncoderInput, x, VaeOnnxNames.EncoderMean)[VaeOnnxNames.EncoderMean];
        var recon = OrtTestRunner.Run(decoder, VaeOnnxNames.DecoderInput, mu, VaeOnnxNames.DecoderOutput)[VaeOnnxNames.DecoderOutput];

        Assert.Equal(new[] { Rows, w.InputDim }, Shape(recon));
        double[] columnMean = new double[w.InputDim];
        for (int i = 0; i < Rows; i++)
        {
            var (refMu, _) = ReferenceVae.Encode(w, OrtTestRunner.Row(x, i));
            var expected = ReferenceVae.Decode(w, refMu);
            AssertClose(expected, OrtTestRunner.Row(recon, i), $"decoder(mu) row {i}");
            for (int j = 0; j < w.InputDim; j++) columnMean[j] += recon[i, j] / (double)Rows;
        }

        if (w.Standardization is { } s)
        {
            // An untrained decoder outputs O(1) values in standardized units, so in the original
            // scale each column must sit within a few scales of its mean (means are up to ±50).
            for (int j = 0; j < w.InputDim; j++)
                Assert.InRange(columnMean[j], s.Mean[j] - 5 * s.Scale[j], s.Mean[j] + 5 * s.Scale[j]);
        }
    }

    [Fact]
    public void InputsAndOutputsHaveNamedTypedShapesWithSymbolicBatch()
    {
        var w = OnnxTestModels.RandomWeights(seed: 1, standardized: true);
        using var encoder = new InferenceSession(VaeOnnxExporter.ExportEncoder(w));
        using var decoder = new InferenceSession(VaeOnnxExporter.ExportDecoder(w));

        AssertSingle(encoder.InputMetadata, VaeOnnxNames.EncoderInput, w.InputDim);
        Assert.Equal(new[] { VaeOnnxNames.EncoderMean, VaeOnnxNames.EncoderLogVariance }, encoder.OutputNames);
        AssertBatchMatrix(encoder.OutputMetadata[VaeOnnxNames.EncoderMean], w.LatentDim);
        AssertBatchMatrix(encoder.OutputMetadata[VaeOnnxNames.EncoderLogVariance], w.LatentDim);

        AssertSingle(decoder.InputMetadata, VaeOnnxNames.DecoderInput, w.LatentDim);
        AssertSingle(decoder.OutputMetadata, VaeOnnxNames.DecoderOutput, w.InputDim);
    }

    [Theory]
    [InlineData(1)]
    [InlineData(2)]
    [InlineData(257)]
    public void AnyBatchSizeRuns(int rows)
    {
        var w = OnnxTestModels.RandomWeights(seed: 2, standardized: true);
        using var encoder = new InferenceSession(VaeOnnxExporter.ExportEncoder(w));
        using var decoder = new InferenceSession(VaeOnnxExporter.ExportDecoder(w));
        var x = OnnxTestModels.RandomFeatures(w, rows, seed: rows);

        var mu = OrtTestRunner.Run(encoder, VaeOnnxNames.EncoderInput, x, VaeOnnxNames.EncoderMean)[VaeOnnxNames.EncoderMean];
        var recon = OrtTestRunner.Run(decoder, VaeOnnxNames.DecoderInput, mu, VaeOnnxNames.DecoderOutput)[VaeOnnxNames.DecoderOutput];

        Assert.Equal(new[] { rows, w.LatentDim }, Shape(mu));
        Assert.Equal(new[] { rows, w.InputDim }, Shape(recon));
    }

    [Fact]
    public void EncoderGraphIsTheDocumentedOpSequence()
    {
        var w = OnnxTestModels.RandomWeights(seed: 3, standardized: true);
        var model = ModelProto.Parser.ParseFrom(VaeOnnxExporter.ExportEncoder(w));

        AssertModelHeader(model);
        Assert.Equal(["Sub", "Div", "Gemm", "Relu", "Gemm", "Relu", "Gemm", "Split"], model.Graph.Node.Select(n => n.OpType));
        AssertGemmsUseTransposedPyTorchWeights(model.Graph, w.Encoder);

        var split = model.Graph.Node.Single(n => n.OpType == "Split");
        Assert.Equal(1, split.Attribute.Single(a => a.Name == "axis").I);
        var sizes = model.Graph.Initializer.Single(t => t.Name == split.Input[1]);
        Assert.Equal((int)TensorProto.Types.DataType.Int64, sizes.DataType);
        Assert.Equal(new long[] { w.LatentDim, w.LatentDim }, sizes.Int64Data);

        AssertStandardizationInitializers(model.Graph, w.Standardization!);
        Assert.Equal([VaeOnnxNames.EncoderInput], model.Graph.Input.Select(i => i.Name)); // initializers are not inputs
    }

    [Fact]
    public void DecoderGraphIsTheDocumentedOpSequence()
    {
        var w = OnnxTestModels.RandomWeights(seed: 3, standardized: true);
        var model = ModelProto.Parser.ParseFrom(VaeOnnxExporter.ExportDecoder(w));

        AssertModelHeader(model);
        Assert.Equal(["Gemm", "Relu", "Gemm", "Relu", "Gemm", "Mul", "Add"], model.Graph.Node.Select(n => n.OpType));
        AssertGemmsUseTransposedPyTorchWeights(model.Graph, w.Decoder);
        AssertStandardizationInitializers(model.Graph, w.Standardization!);
        Assert.Equal(VaeOnnxNames.DecoderOutput, model.Graph.Node.Last().Output.Single());
        Assert.Equal([VaeOnnxNames.DecoderInput], model.Graph.Input.Select(i => i.Name));

        var plain = ModelProto.Parser.ParseFrom(VaeOnnxExporter.ExportDecoder(OnnxTestModels.RandomWeights(seed: 3, standardized: false)));
        Assert.Equal(["Gemm", "Relu", "Gemm", "Relu", "Gemm"], plain.Graph.Node.Select(n => n.OpType));
        Assert.Equal(VaeOnnxNames.DecoderOutput, plain.Graph.Node.Last().Output.Single());
    }

    [Fact]
    public void ExportIsDeterministicAndStreamOverloadsWriteTheSameBytes()
    {
        var w = OnnxTestModels.RandomWeights(seed: 5, standardized: true);
        var meta = new OnnxModelMetadata(0.5, new Dictionary<string, string> { ["b"] = "2", ["a"] = "1" });

        byte[] encoder = VaeOnnxExporter.ExportEncoder(w, meta);
        byte[] decoder = VaeOnnxExporter.ExportDecoder(w, meta);
        Assert.Equal(encoder, VaeOnnxExporter.ExportEncoder(w, meta));
        Assert.Equal(decoder, VaeOnnxExporter.ExportDecoder(w, meta));

        using var encoderStream = new MemoryStream();
        using var decoderStream = new MemoryStream();
        VaeOnnxExporter.ExportEncoder(w, meta, encoderStream);
        VaeOnnxExporter.ExportDecoder(w, meta, decoderStream);
        Assert.Equal(encoder, encoderStream.ToArray());
        Assert.Equal(decoder, decoderStream.ToArray());
        Assert.Equal(encoder, VaeOnnxExporter.BuildEncoder(w, meta).ToByteArray());
    }

    [Fact]
    public void ExtraMetadataMayNotOverrideTheExportersOwnKeys()
    {
        var w = OnnxTestModels.RandomWeights(seed: 6, standardized: false);
        var meta = new OnnxModelMetadata(Extra: new Dictionary<string, string> { [VaeOnnxNames.MetadataKeys.LatentDim] = "99" });

        var ex = Assert.Throws<ArgumentException>(() => VaeOnnxExporter.ExportEncoder(w, meta));
        Assert.Contains(VaeOnnxNames.MetadataKeys.LatentDim, ex.Message);
        Assert.Throws<ArgumentException>(() => VaeOnnxExporter.ExportDecoder(w,
            new OnnxModelMetadata(Extra: new Dictionary<string, string> { [VaeOnnxNames.MetadataKeys.Beta] = "1" })));
    }

    [Fact]
    public void NonFiniteWeightsAreRefused()
    {
        var w = OnnxTestModels.RandomWeights(seed: 7, standardized: false);
        w.Decoder[1].Weight[3] = float.NaN;

        Assert.Throws<ArgumentException>(() => VaeOnnxExporter.ExportEncoder(w));
        Assert.Throws<ArgumentException>(() => VaeOnnxExporter.ExportDecoder(w));
    }

    private static void AssertModelHeader(ModelProto model)
    {
        Assert.Equal(8, model.IrVersion);
        var opset = Assert.Single(model.OpsetImport);
        Assert.Equal("", opset.Domain);
        Assert.Equal(17, opset.Version);
        Assert.Equal(VaeOnnxNames.ProducerName, model.ProducerName);
        Assert.False(string.IsNullOrWhiteSpace(model.DocString));
        Assert.False(string.IsNullOrWhiteSpace(model.Graph.DocString));
        Assert.All(model.Graph.Node, n => Assert.False(string.IsNullOrEmpty(n.Name)));
    }

    private static void AssertGemmsUseTransposedPyTorchWeights(GraphProto graph, LinearLayerWeights[] layers)
    {
        var gemms = graph.Node.Where(n => n.OpType == "Gemm").ToList();
        Assert.Equal(layers.Length, gemms.Count);
        for (int k = 0; k < layers.Length; k++)
        {
            Assert.Equal(1, gemms[k].Attribute.Single(a => a.Name == "transB").I);
            var weight = graph.Initializer.Single(t => t.Name == gemms[k].Input[1]);
            var bias = graph.Initializer.Single(t => t.Name == gemms[k].Input[2]);
            Assert.Equal(new long[] { layers[k].OutputSize, layers[k].InputSize }, weight.Dims);
            Assert.Equal(layers[k].Weight, RawFloats(weight));
            Assert.Equal(layers[k].Bias, RawFloats(bias));
        }
    }

    private static void AssertStandardizationInitializers(GraphProto graph, FeatureStandardization s)
    {
        var floats = graph.Initializer.Where(t => t.DataType == (int)TensorProto.Types.DataType.Float).Select(RawFloats).ToList();
        Assert.Contains(floats, f => f.SequenceEqual(s.Mean));
        Assert.Contains(floats, f => f.SequenceEqual(s.Scale));
    }

    /// <summary>Float initializers must use raw_data (little-endian) and nothing else.</summary>
    private static float[] RawFloats(TensorProto t)
    {
        Assert.Equal((int)TensorProto.Types.DataType.Float, t.DataType);
        Assert.Empty(t.FloatData);
        byte[] bytes = t.RawData.ToByteArray();
        var values = new float[bytes.Length / sizeof(float)];
        for (int i = 0; i < values.Length; i++)
            values[i] = System.Buffers.Binary.BinaryPrimitives.ReadSingleLittleEndian(bytes.AsSpan(i * sizeof(float)));
        return values;
    }

    private static void AssertSingle(IReadOnlyDictionary<string, NodeMetadata> metadata, string name, int width)
    {
        var (key, value) = Assert.Single(metadata);
        Assert.Equal(name, key);
        AssertBatchMatrix(value, width);
    }

    private static void AssertBatchMatrix(NodeMetadata meta, int width)
    {
        Assert.True(meta.IsTensor);
        Assert.Equal(typeof(float), meta.ElementType);
        Assert.Equal(new[] { -1, width }, meta.Dimensions);
        Assert.Equal(VaeOnnxNames.BatchDimension, meta.SymbolicDimensions[0]);
    }

    internal static void AssertClose(IReadOnlyList<double> expected, IReadOnlyList<float> actual, string what)
    {
        Assert.Equal(expected.Count, actual.Count);
        for (int j = 0; j < expected.Count; j++)
        {
            double diff = Math.Abs(expected[j] - actual[j]);
            double bound = Tolerance * Math.Max(1.0, Math.Abs(expected[j]));
            if (!(diff <= bound))
                Assert.Fail($"{what}, column {j}: expected {expected[j]:R}, got {actual[j]:R} (|diff| {diff:E3} > {bound:E3}).");
        }
    }

    private static int[] Shape(float[,] m) => [m.GetLength(0), m.GetLength(1)];
}
