using Google.Protobuf;
using MLNetVae.Model;
using Onnx;

namespace MLNetVae.Onnx;

/// <summary>
/// The graph a saved ML.NET model carries for the VAE: one row in, every output out, in the shapes ML.NET's ONNX
/// transformer maps to the transformer's own column types. Input <c>[in]</c> (rank 1: ML.NET feeds one row per
/// call), outputs mu and logvar <c>[latent]</c>, the reconstruction <c>[in]</c> and the row's mean squared error
/// <c>[1]</c> (ML.NET cannot read rank-0 outputs; a mapping turns it into a scalar). Graph inputs and outputs are
/// named after the columns, because <c>ApplyOnnxModel</c> matches columns to graph values by name.
/// </summary>
internal static class VaeRowGraphExporter
{
    /// <summary>The <c>mlnetvae.part</c> value of this graph.</summary>
    public const string Part = "mlnet-row";

    public static byte[] Export(VaeWeights weights, RowGraphNames names, OnnxModelMetadata metadata) =>
        Build(weights, names, metadata).ToByteArray();

    public static ModelProto Build(VaeWeights weights, RowGraphNames names, OnnxModelMetadata metadata)
    {
        VaeOnnxExporter.CheckExportable(weights);
        int inputDim = weights.InputDim, latentDim = weights.LatentDim;
        string doc = $"MLNetVae VAE for ML.NET model files: '{names.Input}' float[{inputDim}] (one row) → '{names.Mu}', " +
                     $"'{names.LogVar}' float[{latentDim}], '{names.Reconstruction}' float[{inputDim}] (decoded from mu, original scale) " +
                     $"and '{names.ErrorVector}' float[1] (mean squared reconstruction error).";
        var g = new OnnxGraphBuilder("mlnetvae_row", doc);
        g.AddVectorInput(names.Input, inputDim);

        string rowShape = g.AddInt64Initializer("row.shape", [1, inputDim], 2);
        string latentShape = g.AddInt64Initializer("row.latent_shape", [latentDim], 1);
        string inputShape = g.AddInt64Initializer("row.input_shape", [inputDim], 1);
        string x = g.AddNode("Reshape", "row.as_matrix", [names.Input, rowShape], "row.x");

        VaeOnnxExporter.AddEncoder(g, weights, x, "row.mu", "row.logvar");
        VaeOnnxExporter.AddDecoder(g, weights, "row.mu", "row.reconstruction");

        ReconstructionErrorGraph.AddNodes(g, "row.error", x, "row.reconstruction", names.ErrorVector); // [1]: one row

        g.AddNode("Reshape", "row.mu_vector", ["row.mu", latentShape], names.Mu);
        g.AddNode("Reshape", "row.logvar_vector", ["row.logvar", latentShape], names.LogVar);
        g.AddNode("Reshape", "row.reconstruction_vector", ["row.reconstruction", inputShape], names.Reconstruction);

        g.AddVectorOutput(names.Mu, latentDim);
        g.AddVectorOutput(names.LogVar, latentDim);
        g.AddVectorOutput(names.Reconstruction, inputDim);
        g.AddVectorOutput(names.ErrorVector, 1);
        return VaeOnnxExporter.Model(g.Graph, doc, Part, weights, metadata);
    }
}

/// <summary>Graph value names of the row graph: the column names plus the temporary error-vector column.</summary>
internal sealed record RowGraphNames(string Input, string Mu, string LogVar, string Reconstruction, string ErrorVector);
