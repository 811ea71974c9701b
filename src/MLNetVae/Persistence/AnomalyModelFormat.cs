using System.Globalization;
using System.Runtime.InteropServices;
using System.Text.Json;
using MLNetVae.Onnx;
using Onnx;

namespace MLNetVae.Persistence;

/// <summary>
/// What a saved anomaly detector carries besides its VAE (<see cref="VaeModelFormat"/>'s keys, on the anomaly row
/// graph): its resolved options, threshold and where it came from, scoring seed, and the sorted training and
/// calibration scores (<c>WithContamination</c> after loading), so <c>LoadWithFastVae</c> rebuilds the very detector.
/// </summary>
internal static class AnomalyModelFormat
{
    public const string OptionsKey = "mlnetvae.anomaly.options";
    public const string ThresholdKey = "mlnetvae.anomaly.threshold";
    public const string ThresholdSourceKey = "mlnetvae.anomaly.threshold_source";
    public const string ContaminationKey = "mlnetvae.anomaly.contamination";
    public const string FalsePositiveRateKey = "mlnetvae.anomaly.false_positive_rate";
    public const string ScoringSeedKey = "mlnetvae.anomaly.scoring_seed";
    public const string TrainingScoresKey = "mlnetvae.anomaly.training_scores";
    public const string CalibrationScoresKey = "mlnetvae.anomaly.calibration_scores";

    private static readonly JsonSerializerOptions Json = new() { WriteIndented = false };

    public static OnnxModelMetadata Metadata(VaeAnomalyTransformer detector)
    {
        var vae = VaeModelFormat.Metadata(detector.Vae.Options, detector.Vae.TrainingReport);
        var extra = new Dictionary<string, string>(vae.Extra!, StringComparer.Ordinal)
        {
            [OptionsKey] = JsonSerializer.Serialize(detector.Options, Json),
            [ThresholdKey] = detector.Threshold.ToString("R", CultureInfo.InvariantCulture),
            [ThresholdSourceKey] = detector.ThresholdSource.ToString(),
            [ContaminationKey] = Number(detector.Contamination),
            [FalsePositiveRateKey] = Number(detector.TargetFalsePositiveRate),
            [ScoringSeedKey] = detector.ScoringSeed.ToString(CultureInfo.InvariantCulture),
            [TrainingScoresKey] = Floats(detector.TrainingScores),
            [CalibrationScoresKey] = Floats(detector.CalibrationScores),
        };
        return new OnnxModelMetadata(vae.Beta, extra);
    }

    /// <summary>A detector read back from an anomaly row graph, less the host environment.</summary>
    public sealed record Restored(VaeModelFormat.Restored Vae, VaeAnomalyOptions Options, float Threshold, VaeAnomalyThresholdSource Source,
        double? Contamination, double? FalsePositiveRate, int ScoringSeed, float[] TrainingScores, float[] CalibrationScores);

    /// <summary>Whether <paramref name="model"/> is an MLNetVae anomaly row graph; if so, everything in it.</summary>
    /// <exception cref="InvalidDataException">It is one, but of an unknown format or with damaged contents.</exception>
    public static bool TryRestore(ModelProto model, out Restored? restored)
    {
        restored = null;
        if (VaeModelFormat.MetadataOfPart(model, AnomalyScoreGraph.RowPart) is not { } props)
            return false;

        var vae = VaeModelFormat.RestoreVae(model, props);
        try
        {
            var options = JsonSerializer.Deserialize<VaeAnomalyOptions>(VaeModelFormat.Require(props, OptionsKey), Json)
                ?? throw new InvalidDataException("its anomaly detector options are empty.");
            restored = new Restored(vae, options,
                float.Parse(VaeModelFormat.Require(props, ThresholdKey), CultureInfo.InvariantCulture),
                Enum.Parse<VaeAnomalyThresholdSource>(VaeModelFormat.Require(props, ThresholdSourceKey)),
                OptionalNumber(VaeModelFormat.Require(props, ContaminationKey)),
                OptionalNumber(VaeModelFormat.Require(props, FalsePositiveRateKey)),
                int.Parse(VaeModelFormat.Require(props, ScoringSeedKey), CultureInfo.InvariantCulture),
                ReadFloats(VaeModelFormat.Require(props, TrainingScoresKey)),
                ReadFloats(VaeModelFormat.Require(props, CalibrationScoresKey)));
            return true;
        }
        catch (Exception e) when (e is FormatException or ArgumentException or JsonException or OverflowException)
        {
            throw new InvalidDataException($"its anomaly detector's settings are damaged ({e.Message}).", e);
        }
    }

    private static string Number(double? value) => value?.ToString("R", CultureInfo.InvariantCulture) ?? "null";

    private static double? OptionalNumber(string text) => text == "null" ? null : double.Parse(text, CultureInfo.InvariantCulture);

    // Little-endian float32, base64: exact, and a fraction of the size of decimal text.
    private static string Floats(IReadOnlyList<float> values) => Convert.ToBase64String(MemoryMarshal.AsBytes(values.ToArray().AsSpan()));

    private static float[] ReadFloats(string text)
    {
        var bytes = Convert.FromBase64String(text);
        if (bytes.Length % sizeof(float) != 0)
            throw new FormatException($"{bytes.Length} bytes is not a whole number of floats.");
        return MemoryMarshal.Cast<byte, float>(bytes).ToArray();
    }
}
