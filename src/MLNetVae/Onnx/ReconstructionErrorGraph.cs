using Google.Protobuf;
using MLNetVae.Model;

namespace MLNetVae.Onnx;

/// <summary>
/// The one definition of the VAE's reconstruction error, as ONNX nodes: the mean over features of (x − x̂)² in float32,
/// NaN turned into +∞ for finite rows (<see cref="ScoreOverflowNodes"/>). Used by the decoder the transformer scores
/// blocks with (<see cref="ExportScoringDecoder"/>) and by the row graph saved in ML.NET models, so both agree by
/// construction.
/// </summary>
internal static class ReconstructionErrorGraph
{
    /// <summary>The <c>mlnetvae.part</c> value of the scoring decoder (built in memory, never saved).</summary>
    public const string ScoringDecoderPart = "decoder-with-error";

    /// <summary>Scoring decoder input besides <see cref="VaeOnnxNames.DecoderInput"/>: the rows <c>[rows, in]</c> that were encoded.</summary>
    public const string FeaturesInput = VaeOnnxNames.EncoderInput;

    /// <summary>Scoring decoder output besides <see cref="VaeOnnxNames.DecoderOutput"/>: the error per row, <c>[rows]</c>.</summary>
    public const string ErrorOutput = "reconstruction_error";

    /// <summary>
    /// The decoder of <see cref="VaeOnnxExporter.BuildDecoder"/> plus the error of its output against the rows that
    /// were encoded: <c>(z [rows, latent], features [rows, in]) → (reconstruction [rows, in], reconstruction_error [rows])</c>.
    /// </summary>
    public static byte[] ExportScoringDecoder(VaeWeights weights, VaeScoringPrecision precision = VaeScoringPrecision.Float32)
    {
        VaeOnnxExporter.CheckExportable(weights);
        const string doc = "MLNetVae VAE decoder with the reconstruction error of each row.";
        var g = new OnnxGraphBuilder("mlnetvae_scoring_decoder", doc);
        g.AddInput(VaeOnnxNames.DecoderInput, weights.LatentDim);
        g.AddInput(FeaturesInput, weights.InputDim);
        VaeOnnxExporter.AddDecoder(g, weights, VaeOnnxNames.DecoderInput, VaeOnnxNames.DecoderOutput, precision);
        AddNodes(g, "error", FeaturesInput, VaeOnnxNames.DecoderOutput, ErrorOutput);
        g.AddOutput(VaeOnnxNames.DecoderOutput, weights.InputDim);
        g.AddBatchOutput(ErrorOutput);
        return VaeOnnxExporter.Model(g.Graph, doc, ScoringDecoderPart, weights, OnnxModelMetadata.Empty).ToByteArray();
    }

    /// <summary>Adds the error of <paramref name="reconstruction"/> against <paramref name="x"/> (both <c>[rows, in]</c>), written to <paramref name="output"/> (<c>[rows]</c>).</summary>
    public static void AddNodes(OnnxGraphBuilder g, string prefix, string x, string reconstruction, string output)
    {
        string difference = g.AddNode("Sub", $"{prefix}.sub", [x, reconstruction], $"{prefix}.difference");
        string squared = g.AddNode("Mul", $"{prefix}.square", [difference, difference], $"{prefix}.squared");
        string error = g.AddNode("ReduceMean", $"{prefix}.mean", [squared], $"{prefix}.raw",
            OnnxGraphBuilder.IntsAttribute("axes", 1), OnnxGraphBuilder.IntAttribute("keepdims", 0));
        ScoreOverflowNodes.Finish(g, $"{prefix}.overflow", x, error, output);
    }
}
