using System.Text.Json;
using MLNetVae.Model;
using MLNetVae.Onnx;
using Onnx;

namespace MLNetVae.Persistence;

/// <summary>
/// What MLNetVae stores in a saved ML.NET model: the row graph (<see cref="VaeRowGraphExporter"/>) whose metadata
/// carries the format version, the options and the training report, and whose initializers are the weights.
/// Everything needed to rebuild the fast <see cref="VaeTransformer"/> travels inside that one ONNX model.
/// </summary>
internal static class VaeModelFormat
{
    /// <summary>
    /// Version of what is written; a reader refuses files with a larger one. 1: the first format. 2: every graph ends
    /// with a SHA-256 of its bytes (<see cref="GraphChecksum"/>), and saved scores clamp logvar and map overflow to +∞.
    /// Format 1 files still load (without the checksum, which they never had).
    /// </summary>
    public const int CurrentVersion = 2;

    /// <summary>The first version whose graphs must carry a checksum.</summary>
    public const int ChecksumVersion = 2;

    public const string FormatVersionKey = "mlnetvae.format_version";
    public const string OptionsKey = "mlnetvae.options";
    public const string TrainingReportKey = "mlnetvae.training_report";

    private static readonly JsonSerializerOptions Json = new() { WriteIndented = false };

    public static OnnxModelMetadata Metadata(VaeOptions options, VaeTrainingReport? report) => new(options.Beta, new Dictionary<string, string>
    {
        [FormatVersionKey] = CurrentVersion.ToString(System.Globalization.CultureInfo.InvariantCulture),
        [OptionsKey] = JsonSerializer.Serialize(options, Json),
        [TrainingReportKey] = report is null ? "null" : JsonSerializer.Serialize(report, Json),
    });

    /// <summary>A VAE read back from a row graph.</summary>
    public sealed record Restored(VaeWeights Weights, VaeOptions Options, VaeTrainingReport? TrainingReport);

    /// <summary>
    /// Whether <paramref name="model"/> is an MLNetVae row graph; if so, its weights, options and report.
    /// Throws <see cref="InvalidDataException"/> for a row graph of an unknown format or with damaged contents.
    /// </summary>
    public static bool TryRestore(ModelProto model, out Restored? restored)
    {
        restored = null;
        if (MetadataOfPart(model, VaeRowGraphExporter.Part) is not { } props)
            return false;
        restored = RestoreVae(model, props);
        return true;
    }

    /// <summary>Whether MLNetVae wrote <paramref name="model"/> as one of the graphs it saves in model files (the VAE's or the detector's).</summary>
    internal static bool IsMLNetVaeGraph(ModelProto model) =>
        MetadataOfPart(model, VaeRowGraphExporter.Part) is not null || MetadataOfPart(model, AnomalyScoreGraph.RowPart) is not null;

    /// <summary>The format version <paramref name="model"/> states; throws for a missing, malformed or newer one.</summary>
    internal static int RequireReadableVersion(ModelProto model)
    {
        var versionText = model.MetadataProps.FirstOrDefault(p => p.Key == FormatVersionKey)?.Value;
        if (!int.TryParse(versionText, System.Globalization.NumberStyles.None, System.Globalization.CultureInfo.InvariantCulture, out int version) || version < 1)
            throw new InvalidDataException($"its VAE has an unknown format version '{versionText}'.");
        if (version > CurrentVersion)
            throw new InvalidDataException(
                $"its VAE was written in format {version} by MLNetVae {model.ProducerVersion}; this MLNetVae ({VaeOnnxExporter.ProducerVersion}) reads format {CurrentVersion} and older. Upgrade MLNetVae.");
        return version;
    }

    /// <summary>The metadata of <paramref name="model"/> when MLNetVae wrote it as the graph <paramref name="part"/>; otherwise null.</summary>
    internal static Dictionary<string, string>? MetadataOfPart(ModelProto model, string part)
    {
        if (model.ProducerName != VaeOnnxNames.ProducerName)
            return null; // another tool's graph: its metadata is its own business (and may repeat keys)
        var props = new Dictionary<string, string>(StringComparer.Ordinal);
        foreach (var prop in model.MetadataProps)
            if (!props.TryAdd(prop.Key, prop.Value))
                throw new InvalidDataException($"its VAE graph has the metadata key '{prop.Key}' twice: the graph was changed after it was saved.");
        return props.TryGetValue(VaeOnnxNames.MetadataKeys.Part, out var written) && written == part ? props : null;
    }

    /// <summary>Every graph part MLNetVae writes (row graphs inside ML.NET models, exported and scoring graphs).</summary>
    private static readonly HashSet<string> KnownParts = new(StringComparer.Ordinal)
    {
        VaeOnnxNames.EncoderPart, VaeOnnxNames.DecoderPart, ReconstructionErrorGraph.ScoringDecoderPart,
        VaeRowGraphExporter.Part, AnomalyScoreGraph.RowPart, AnomalyScoreGraph.BatchPart,
    };

    /// <summary>
    /// Whether a graph that is not one of the row graphs carries MLNetVae's metadata (<c>mlnetvae.*</c>) under a producer
    /// name or graph part MLNetVae never writes: one changed byte there would otherwise hide a VAE from the checksum. An
    /// exported encoder or decoder used as an ONNX stage keeps its own producer and part and is not one.
    /// </summary>
    internal static bool IsAlteredMLNetVaeGraph(ModelProto model)
    {
        if (!model.MetadataProps.Any(p => p.Key.StartsWith("mlnetvae.", StringComparison.Ordinal)))
            return false;
        string? part = model.MetadataProps.FirstOrDefault(p => p.Key == VaeOnnxNames.MetadataKeys.Part)?.Value;
        if (model.ProducerName == VaeOnnxNames.ProducerName && part is not null && KnownParts.Contains(part))
            return false;
        if (model.ProducerName == VaeOnnxNames.ProducerName)
            RequireReadableVersion(model); // a newer MLNetVae's part: "upgrade", not "changed"
        return true;
    }

    /// <summary>The VAE of an MLNetVae graph (the VAE's row graph or the anomaly detector's): format check, weights, options, report.</summary>
    internal static Restored RestoreVae(ModelProto model, Dictionary<string, string> props)
    {
        RequireReadableVersion(model);

        var options = JsonSerializer.Deserialize<VaeOptions>(Require(props, OptionsKey), Json)
            ?? throw new InvalidDataException("its VAE options are empty.");
        var report = JsonSerializer.Deserialize<VaeTrainingReport?>(Require(props, TrainingReportKey), Json);
        return new Restored(ReadWeights(model.Graph), options, report);
    }

    internal static string Require(Dictionary<string, string> props, string key) =>
        props.TryGetValue(key, out var value) ? value : throw new InvalidDataException($"its VAE lacks the '{key}' metadata.");

    internal static VaeWeights ReadWeights(GraphProto graph)
    {
        var initializers = graph.Initializer.ToDictionary(t => t.Name, StringComparer.Ordinal);
        LinearLayerWeights Layer(string name)
        {
            var weight = Tensor(initializers, $"{name}.weight", out var dims);
            if (dims.Length != 2)
                throw new InvalidDataException($"its VAE layer '{name}' has {dims.Length} dimensions instead of 2.");
            var bias = Tensor(initializers, $"{name}.bias", out _);
            return new LinearLayerWeights((int)dims[1], (int)dims[0], weight, bias);
        }

        VaeWeights weights;
        try
        {
            FeatureStandardization? standardization = null;
            if (initializers.ContainsKey(VaeOnnxExporter.MeanInitializer))
                standardization = new FeatureStandardization(
                    Tensor(initializers, VaeOnnxExporter.MeanInitializer, out _), Tensor(initializers, VaeOnnxExporter.ScaleInitializer, out _));
            weights = new VaeWeights(
                VaeOnnxExporter.EncoderLayerNames.Select(Layer).ToArray(),
                VaeOnnxExporter.DecoderLayerNames.Select(Layer).ToArray(),
                standardization);
        }
        catch (ArgumentException e)
        {
            throw new InvalidDataException($"its VAE weights are inconsistent: {e.Message}", e);
        }
        // Training never returns non-finite weights, so a saved NaN or ∞ is damage (format 1 files have no checksum to say so).
        if (!weights.AllFinite() || weights.Standardization?.Mean.All(float.IsFinite) == false)
            throw new InvalidDataException("its VAE weights hold NaN or ∞ values, which training never produces: the file was changed or damaged.");
        return weights;
    }

    private static float[] Tensor(Dictionary<string, TensorProto> initializers, string name, out long[] dims)
    {
        if (!initializers.TryGetValue(name, out var tensor))
            throw new InvalidDataException($"its VAE lacks the tensor '{name}'.");
        dims = tensor.Dims.ToArray();
        long count = dims.Aggregate(1L, (a, b) => a * b);
        var raw = tensor.RawData.Span;
        if (tensor.DataType != (int)TensorProto.Types.DataType.Float || raw.Length != count * sizeof(float))
            throw new InvalidDataException($"its VAE tensor '{name}' is damaged ({raw.Length} bytes for {count} floats).");
        var values = new float[count];
        System.Runtime.InteropServices.MemoryMarshal.Cast<byte, float>(raw).CopyTo(values);
        if (!BitConverter.IsLittleEndian)
            throw new PlatformNotSupportedException("Reading ONNX raw_data needs a little-endian machine.");
        return values;
    }
}
