using System.Globalization;
using System.Reflection;
using Google.Protobuf;
using MLNetVae.Model;
using Onnx;

namespace MLNetVae.Onnx;

/// <summary>
/// Turns <see cref="VaeWeights"/> into two self-contained ONNX models, one for the encoder and one
/// for the decoder. Both work in the ORIGINAL feature scale: the standardization (if any) is folded
/// into the graphs, so a file needs nothing else to be used.
/// </summary>
/// <remarks>
/// <para>Encoder <c>features [batch, in] → (mu, logvar) [batch, latent]</c>:
/// [Sub(mean), Div(scale)] → Gemm → Relu → Gemm → Relu → Gemm → Split.</para>
/// <para>Decoder <c>z [batch, latent] → reconstruction [batch, in]</c>:
/// Gemm → Relu → Gemm → Relu → Gemm → [Mul(scale), Add(mean)].</para>
/// <para>Standardization is Sub then Div, exactly <c>(x - mean) / scale</c>, rather than a
/// precomputed multiply-add, so the results are bit-for-bit what a float32 implementation
/// computing the same expression produces. Linear layers are Gemm with <c>transB = 1</c>, which
/// takes the PyTorch <c>[out, in]</c> weight layout as is.</para>
/// <para>ir_version 8 / opset 17 (default domain) are what ONNX Runtime, ML.NET's ONNX transformer
/// and onnx ≥ 1.12 all read; opset 13+ Split takes its sizes as an int64 input, not an attribute.</para>
/// </remarks>
internal static class VaeOnnxExporter
{
    public const long IrVersion = 8;
    public const long OpsetVersion = 17;

    // Initializer names follow the PyTorch nn.Sequential indices (Linear at 0, 2, 4; ReLU at 1, 3),
    // so a graph can be read side by side with the training code or a torch export.
    internal static readonly string[] EncoderLayerNames = ["encoder.0", "encoder.2", "encoder.4"];
    internal static readonly string[] DecoderLayerNames = ["decoder.0", "decoder.2", "decoder.4"];
    internal const string MeanInitializer = "standardization.mean";
    internal const string ScaleInitializer = "standardization.scale";

    /// <summary>The encoder as an ONNX model, serialized.</summary>
    public static byte[] ExportEncoder(VaeWeights weights, OnnxModelMetadata? metadata = null, VaeScoringPrecision precision = VaeScoringPrecision.Float32) =>
        BuildEncoder(weights, metadata, precision).ToByteArray();

    /// <summary>The decoder as an ONNX model, serialized.</summary>
    public static byte[] ExportDecoder(VaeWeights weights, OnnxModelMetadata? metadata = null, VaeScoringPrecision precision = VaeScoringPrecision.Float32) =>
        BuildDecoder(weights, metadata, precision).ToByteArray();

    /// <summary>Writes the encoder model to <paramref name="destination"/> (left open).</summary>
    public static void ExportEncoder(VaeWeights weights, OnnxModelMetadata? metadata, Stream destination)
    {
        ArgumentNullException.ThrowIfNull(destination);
        BuildEncoder(weights, metadata).WriteTo(destination);
    }

    /// <summary>Writes the decoder model to <paramref name="destination"/> (left open).</summary>
    public static void ExportDecoder(VaeWeights weights, OnnxModelMetadata? metadata, Stream destination)
    {
        ArgumentNullException.ThrowIfNull(destination);
        BuildDecoder(weights, metadata).WriteTo(destination);
    }

    /// <summary>The encoder as an OnnxSharp <see cref="ModelProto"/>.</summary>
    public static ModelProto BuildEncoder(VaeWeights weights, OnnxModelMetadata? metadata = null, VaeScoringPrecision precision = VaeScoringPrecision.Float32)
    {
        CheckExportable(weights);
        string doc = $"MLNetVae VAE encoder: '{VaeOnnxNames.EncoderInput}' float[{VaeOnnxNames.BatchDimension},{weights.InputDim}] " +
                     $"in the original feature scale{StandardizationNote(weights, "(x - mean) / scale applied first")} → " +
                     $"'{VaeOnnxNames.EncoderMean}' and '{VaeOnnxNames.EncoderLogVariance}' float[{VaeOnnxNames.BatchDimension},{weights.LatentDim}], " +
                     $"the mean and log-variance of q(z|x). Hidden width {weights.HiddenDim}, ReLU.";
        var g = new OnnxGraphBuilder("mlnetvae_encoder", doc);
        g.AddInput(VaeOnnxNames.EncoderInput, weights.InputDim);

        AddEncoder(g, weights, VaeOnnxNames.EncoderInput, VaeOnnxNames.EncoderMean, VaeOnnxNames.EncoderLogVariance, precision);

        g.AddOutput(VaeOnnxNames.EncoderMean, weights.LatentDim);
        g.AddOutput(VaeOnnxNames.EncoderLogVariance, weights.LatentDim);
        return Model(g.Graph, doc, VaeOnnxNames.EncoderPart, weights, metadata);
    }

    /// <summary>The decoder as an OnnxSharp <see cref="ModelProto"/>.</summary>
    public static ModelProto BuildDecoder(VaeWeights weights, OnnxModelMetadata? metadata = null, VaeScoringPrecision precision = VaeScoringPrecision.Float32)
    {
        CheckExportable(weights);
        string doc = $"MLNetVae VAE decoder: '{VaeOnnxNames.DecoderInput}' float[{VaeOnnxNames.BatchDimension},{weights.LatentDim}] " +
                     $"(a latent code, e.g. the encoder's mu) → '{VaeOnnxNames.DecoderOutput}' " +
                     $"float[{VaeOnnxNames.BatchDimension},{weights.InputDim}] in the original feature scale" +
                     $"{StandardizationNote(weights, "x̂ · scale + mean applied last")}. Hidden width {weights.HiddenDim}, ReLU.";
        var g = new OnnxGraphBuilder("mlnetvae_decoder", doc);
        g.AddInput(VaeOnnxNames.DecoderInput, weights.LatentDim);

        AddDecoder(g, weights, VaeOnnxNames.DecoderInput, VaeOnnxNames.DecoderOutput, precision);

        g.AddOutput(VaeOnnxNames.DecoderOutput, weights.InputDim);
        return Model(g.Graph, doc, VaeOnnxNames.DecoderPart, weights, metadata);
    }

    /// <summary>The library's informational version (e.g. <c>0.1.0+commit</c>), written as producer_version.</summary>
    /// <summary>
    /// Adds the encoder's nodes from <paramref name="input"/> (<c>[rows, in]</c>, original scale) to the outputs
    /// <paramref name="mu"/> and <paramref name="logVar"/> (<c>[rows, latent]</c>). Shared by the standalone encoder
    /// and the ML.NET row graph, so both hold the very same computation.
    /// </summary>
    internal static void AddEncoder(OnnxGraphBuilder g, VaeWeights weights, string input, string mu, string logVar, VaeScoringPrecision precision = VaeScoringPrecision.Float32)
    {
        string h = input;
        if (weights.Standardization is { } s)
        {
            AddStandardizationInitializers(g, s);
            // [rows, in] op [in] broadcasts over rows.
            h = g.AddNode("Sub", "standardize.sub", [h, MeanInitializer], "standardize.centered");
            h = g.AddNode("Div", "standardize.div", [h, ScaleInitializer], "standardize.output");
        }

        if (precision == VaeScoringPrecision.Int8)
        {
            // The int8 layers apply the ReLUs in their quantization (Int8LinearNodes).
            h = Int8LinearNodes.Add(g, EncoderLayerNames[0], weights.Encoder[0], h, reluOfInput: false, $"{EncoderLayerNames[0]}.output");
            h = Int8LinearNodes.Add(g, EncoderLayerNames[1], weights.Encoder[1], h, reluOfInput: true, $"{EncoderLayerNames[1]}.output");
            h = Int8LinearNodes.Add(g, EncoderLayerNames[2], weights.Encoder[2], h, reluOfInput: true, $"{EncoderLayerNames[2]}.output");
        }
        else
        {
            h = Linear(g, EncoderLayerNames[0], weights.Encoder[0], h);
            h = Relu(g, "encoder.1", h);
            h = Linear(g, EncoderLayerNames[1], weights.Encoder[1], h);
            h = Relu(g, "encoder.3", h);
            h = Linear(g, EncoderLayerNames[2], weights.Encoder[2], h); // [rows, 2·latent]
        }

        // First half of the columns is mu, second half logvar (the training code's convention).
        string sizes = g.AddInt64Initializer("encoder.split_sizes", [weights.LatentDim, weights.LatentDim], 2);
        g.AddNode("Split", "encoder.split", [h, sizes], [mu, logVar], OnnxGraphBuilder.IntAttribute("axis", 1));
    }

    /// <summary>Adds the decoder's nodes from <paramref name="z"/> (<c>[rows, latent]</c>) to <paramref name="output"/> (<c>[rows, in]</c>, original scale).</summary>
    internal static void AddDecoder(OnnxGraphBuilder g, VaeWeights weights, string z, string output, VaeScoringPrecision precision = VaeScoringPrecision.Float32)
    {
        string h = z;
        if (precision == VaeScoringPrecision.Int8)
        {
            // The unstandardization x̂ · scale + mean is folded into the last layer (its rows scaled, per output channel,
            // which the per-channel weight scales absorb): two passes over [rows, in] fewer than float32's exact form.
            var last = weights.Standardization is { } standardization ? Unstandardized(weights.Decoder[2], standardization) : weights.Decoder[2];
            h = Int8LinearNodes.Add(g, DecoderLayerNames[0], weights.Decoder[0], h, reluOfInput: false, $"{DecoderLayerNames[0]}.output");
            h = Int8LinearNodes.Add(g, DecoderLayerNames[1], weights.Decoder[1], h, reluOfInput: true, $"{DecoderLayerNames[1]}.output");
            Int8LinearNodes.Add(g, DecoderLayerNames[2], last, h, reluOfInput: true, output);
            return;
        }

        h = Linear(g, DecoderLayerNames[0], weights.Decoder[0], h);
        h = Relu(g, "decoder.1", h);
        h = Linear(g, DecoderLayerNames[1], weights.Decoder[1], h);
        h = Relu(g, "decoder.3", h);

        if (weights.Standardization is { } s)
        {
            h = Linear(g, DecoderLayerNames[2], weights.Decoder[2], h);
            AddStandardizationInitializers(g, s);
            h = g.AddNode("Mul", "unstandardize.mul", [h, ScaleInitializer], "unstandardize.scaled");
            g.AddNode("Add", "unstandardize.add", [h, MeanInitializer], output);
        }
        else
        {
            Linear(g, DecoderLayerNames[2], weights.Decoder[2], h, output: output);
        }
    }

    /// <summary>The layer <c>x ↦ (x Wᵀ + b) · scale + mean</c> as one linear layer: row n of W and b[n] times scale[n], plus mean[n].</summary>
    private static LinearLayerWeights Unstandardized(LinearLayerWeights layer, FeatureStandardization s)
    {
        var weight = new float[layer.Weight.Length];
        var bias = new float[layer.OutputSize];
        for (int n = 0; n < layer.OutputSize; n++)
        {
            float scale = s.Scale[n];
            for (int k = 0; k < layer.InputSize; k++)
                weight[n * layer.InputSize + k] = layer.Weight[n * layer.InputSize + k] * scale;
            bias[n] = layer.Bias[n] * scale + s.Mean[n];
        }
        return new LinearLayerWeights(layer.InputSize, layer.OutputSize, weight, bias);
    }

    // Encoder and decoder share the two initializers when both live in one graph.
    private static void AddStandardizationInitializers(OnnxGraphBuilder g, FeatureStandardization s)
    {
        if (g.Graph.Initializer.Any(i => i.Name == MeanInitializer))
            return;
        g.AddFloatInitializer(MeanInitializer, s.Mean, s.Dimension);
        g.AddFloatInitializer(ScaleInitializer, s.Scale, s.Dimension);
    }

    internal static string ProducerVersion { get; } =
        typeof(VaeOnnxExporter).Assembly.GetCustomAttribute<AssemblyInformationalVersionAttribute>()?.InformationalVersion
        ?? typeof(VaeOnnxExporter).Assembly.GetName().Version?.ToString()
        ?? "unknown";

    /// <summary><c>y = x Wᵀ + b</c> as one Gemm; W stays in its PyTorch <c>[out, in]</c> layout.</summary>
    private static string Linear(OnnxGraphBuilder g, string name, LinearLayerWeights layer, string input, string? output = null)
    {
        string w = g.AddFloatInitializer($"{name}.weight", layer.Weight, layer.OutputSize, layer.InputSize);
        string b = g.AddFloatInitializer($"{name}.bias", layer.Bias, layer.OutputSize);
        return g.AddNode("Gemm", $"{name}.gemm", [input, w, b], output ?? $"{name}.output",
            OnnxGraphBuilder.IntAttribute("transB", 1));
    }

    private static string Relu(OnnxGraphBuilder g, string name, string input) =>
        g.AddNode("Relu", $"{name}.relu", [input], $"{name}.output");

    private static string StandardizationNote(VaeWeights weights, string what) =>
        weights.Standardization is null ? " (no standardization)" : $" (per-feature standardization folded in: {what})";

    /// <summary>
    /// <paramref name="graph"/> as a model of this exporter's IR version and opset, importing ONNX Runtime's
    /// <c>com.microsoft</c> domain when a node uses it (the int8 layers); no metadata.
    /// </summary>
    internal static ModelProto BareModel(GraphProto graph)
    {
        var model = new ModelProto { IrVersion = IrVersion, Graph = graph };
        model.OpsetImport.Add(new OperatorSetIdProto { Domain = "", Version = OpsetVersion });
        if (graph.Node.Any(n => n.Domain == OnnxGraphBuilder.MicrosoftDomain))
            model.OpsetImport.Add(new OperatorSetIdProto { Domain = OnnxGraphBuilder.MicrosoftDomain, Version = 1 });
        return model;
    }

    internal static ModelProto Model(GraphProto graph, string doc, string part, VaeWeights weights, OnnxModelMetadata? metadata)
    {
        metadata ??= OnnxModelMetadata.Empty;
        var model = BareModel(graph);
        model.ProducerName = VaeOnnxNames.ProducerName;
        model.ProducerVersion = ProducerVersion;
        model.DocString = doc;

        var props = new List<KeyValuePair<string, string>>
        {
            new(VaeOnnxNames.MetadataKeys.Part, part),
            new(VaeOnnxNames.MetadataKeys.InputDim, Invariant(weights.InputDim)),
            new(VaeOnnxNames.MetadataKeys.HiddenDim, Invariant(weights.HiddenDim)),
            new(VaeOnnxNames.MetadataKeys.LatentDim, Invariant(weights.LatentDim)),
            new(VaeOnnxNames.MetadataKeys.Standardized, weights.Standardization is null ? "false" : "true"),
        };
        if (metadata.Beta is { } beta)
            props.Add(new(VaeOnnxNames.MetadataKeys.Beta, beta.ToString("R", CultureInfo.InvariantCulture)));

        if (metadata.Extra is { Count: > 0 } extra)
        {
            var reserved = props.Select(p => p.Key).Append(VaeOnnxNames.MetadataKeys.Beta).ToHashSet(StringComparer.Ordinal);
            foreach (var (key, value) in extra.OrderBy(kv => kv.Key, StringComparer.Ordinal))
            {
                if (string.IsNullOrEmpty(key))
                    throw new ArgumentException("Extra metadata keys must be non-empty.", nameof(metadata));
                if (reserved.Contains(key))
                    throw new ArgumentException($"Extra metadata key '{key}' is written by the exporter itself.", nameof(metadata));
                ArgumentNullException.ThrowIfNull(value, $"{nameof(metadata)}.{nameof(metadata.Extra)}[{key}]");
                props.Add(new(key, value));
            }
        }

        foreach (var (key, value) in props)
            model.MetadataProps.Add(new StringStringEntryProto { Key = key, Value = value });
        return model;
    }

    internal static void CheckExportable(VaeWeights weights)
    {
        ArgumentNullException.ThrowIfNull(weights);
        // A NaN/Inf weight would not fail anywhere downstream; it would silently score NaN for every row.
        if (!weights.AllFinite())
            throw new ArgumentException("The VAE weights contain NaN or infinite values; refusing to export them.", nameof(weights));
        if (weights.Standardization is { } s && !s.Mean.All(float.IsFinite))
            throw new ArgumentException("The standardization mean contains NaN or infinite values.", nameof(weights));
    }

    private static string Invariant(int value) => value.ToString(CultureInfo.InvariantCulture);
}
