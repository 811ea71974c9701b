using Google.Protobuf;
using MLNetVae.Model;
using Onnx;

namespace MLNetVae.Onnx;

/// <summary>
/// The graph a saved ML.NET model carries for the anomaly detector: one row in (rank 1, as ML.NET feeds
/// <c>ApplyOnnxModel</c>), the score out as <c>[1]</c> (a mapping makes it a scalar) and optionally the per-feature
/// squared errors <c>[in]</c>. The same computation as <c>AnomalyBlockScorer</c>, in float32:
/// <list type="bullet">
/// <item>reconstruction error: mean over features of (x − decoder(mu))²;</item>
/// <item>Monte Carlo reconstruction error: the same for decoder(mu + exp(logvar / 2) · eps_s), averaged over the
/// draws eps_s of the detector's noise table (an initializer, shared by every row);</item>
/// <item>negative ELBO: the mean over the draws of Σ ((x − x̂_s) / scale)², plus β · KL(q(z|x) ‖ N(0, I)).</item>
/// </list>
/// </summary>
internal static class AnomalyRowGraphExporter
{
    /// <summary>The <c>mlnetvae.part</c> value of this graph.</summary>
    public const string Part = "mlnet-anomaly-row";

    /// <param name="Kind">The score.</param>
    /// <param name="Samples">Draws per row (sampling scores only).</param>
    /// <param name="NoiseTable">eps[s, k], row-major (sampling scores only).</param>
    /// <param name="Beta">Weight of the KL term (negative ELBO only).</param>
    /// <param name="LogVarianceLimit">Upper clamp of logvar in the draws and the KL term (as <c>ScoreOverflow</c>).</param>
    internal sealed record Score(VaeAnomalyScoreKind Kind, int Samples, float[] NoiseTable, double Beta, float LogVarianceLimit);

    public static byte[] Export(VaeWeights weights, AnomalyRowGraphNames names, Score score, OnnxModelMetadata metadata) =>
        Build(weights, names, score, metadata).ToByteArray();

    public static ModelProto Build(VaeWeights weights, AnomalyRowGraphNames names, Score score, OnnxModelMetadata metadata)
    {
        VaeOnnxExporter.CheckExportable(weights);
        int inputDim = weights.InputDim, latentDim = weights.LatentDim;
        bool sampling = score.Kind != VaeAnomalyScoreKind.ReconstructionError;
        string doc = $"MLNetVae anomaly detector for ML.NET model files: '{names.Input}' float[{inputDim}] (one row) → " +
                     $"'{names.ScoreVector}' float[1] ({score.Kind}{(sampling ? $", {score.Samples} draws" : "")})" +
                     (names.PerFeatureError is null ? "." : $" and '{names.PerFeatureError}' float[{inputDim}] ((x − decoder(mu))² per feature).");
        var g = new OnnxGraphBuilder("mlnetvae_anomaly_row", doc);
        g.AddVectorInput(names.Input, inputDim);

        string rowShape = g.AddInt64Initializer("anomaly.row_shape", [1, inputDim], 2);
        string x = g.AddNode("Reshape", "anomaly.as_matrix", [names.Input, rowShape], "anomaly.x"); // [1, in]
        VaeOnnxExporter.AddEncoder(g, weights, x, "anomaly.mu", "anomaly.logvar");                  // [1, latent] each
        string logVar = ScoreOverflowNodes.ClampLogVariance(g, "anomaly", "anomaly.logvar", score.LogVarianceLimit);

        // One decoder pass for every latent code the outputs need: the draws (sampling scores), then mu (the
        // deterministic score and the per-feature errors). Row 0.. S−1 are the draws, the last row is mu.
        bool needMu = !sampling || names.PerFeatureError is not null;
        var codes = new List<string>();
        if (sampling)
        {
            string noise = g.AddFloatInitializer("anomaly.noise", score.NoiseTable, score.Samples, latentDim);
            string half = g.AddFloatInitializer("anomaly.half", [0.5f]);
            string halfLogVar = g.AddNode("Mul", "anomaly.sigma.half", [logVar, half], "anomaly.half_logvar");
            string sigma = g.AddNode("Exp", "anomaly.sigma.exp", [halfLogVar], "anomaly.sigma");
            string scaled = g.AddNode("Mul", "anomaly.draws.scale", [sigma, noise], "anomaly.scaled_noise"); // [S, latent]
            codes.Add(g.AddNode("Add", "anomaly.draws.shift", ["anomaly.mu", scaled], "anomaly.draws"));
        }
        if (needMu)
            codes.Add("anomaly.mu");
        string z = codes.Count == 1 ? codes[0] : g.AddNode("Concat", "anomaly.codes", codes.ToArray(), "anomaly.codes", OnnxGraphBuilder.IntAttribute("axis", 0));
        VaeOnnxExporter.AddDecoder(g, weights, z, "anomaly.decoded");                                // [S (+1), in]
        // x − x̂ for every decoded row ([1, in] broadcasts over the rows).
        string difference = g.AddNode("Sub", "anomaly.difference", [x, "anomaly.decoded"], "anomaly.difference");

        string perRow;  // the score before any KL term, [1]
        if (!sampling)
        {
            string squared = g.AddNode("Mul", "anomaly.square", [difference, difference], "anomaly.squared");
            perRow = g.AddNode("ReduceMean", "anomaly.mse", [squared], "anomaly.mse",
                OnnxGraphBuilder.IntsAttribute("axes", 1), OnnxGraphBuilder.IntAttribute("keepdims", 0)); // [1]
        }
        else
        {
            string draws = difference;
            if (needMu)
            {
                // Keep the S draw rows only.
                string starts = g.AddInt64Initializer("anomaly.draws.starts", [0], 1);
                string ends = g.AddInt64Initializer("anomaly.draws.ends", [score.Samples], 1);
                string axes = g.AddInt64Initializer("anomaly.draws.axes", [0], 1);
                draws = g.AddNode("Slice", "anomaly.draws.slice", [difference, starts, ends, axes], "anomaly.draw_differences");
            }
            string perDraw;
            if (score.Kind == VaeAnomalyScoreKind.NegativeElbo)
            {
                // Squared error in the scale the network was trained in: divide by the standardization scale.
                string standardized = weights.Standardization is null
                    ? draws
                    : g.AddNode("Div", "anomaly.elbo.unscale", [draws, VaeOnnxExporter.ScaleInitializer], "anomaly.standardized_differences");
                string squared = g.AddNode("Mul", "anomaly.elbo.square", [standardized, standardized], "anomaly.elbo.squared");
                string featureAxis = g.AddInt64Initializer("anomaly.feature_axis", [1], 1);
                perDraw = g.AddNode("ReduceSum", "anomaly.elbo.sum", [squared, featureAxis], "anomaly.elbo.per_draw",
                    OnnxGraphBuilder.IntAttribute("keepdims", 0));                                       // [S]
            }
            else
            {
                string squared = g.AddNode("Mul", "anomaly.mc.square", [draws, draws], "anomaly.mc.squared");
                perDraw = g.AddNode("ReduceMean", "anomaly.mc.mean", [squared], "anomaly.mc.per_draw",
                    OnnxGraphBuilder.IntsAttribute("axes", 1), OnnxGraphBuilder.IntAttribute("keepdims", 0)); // [S]
            }
            perRow = g.AddNode("ReduceMean", "anomaly.draws.mean", [perDraw], "anomaly.reconstruction_term",
                OnnxGraphBuilder.IntsAttribute("axes", 0), OnnxGraphBuilder.IntAttribute("keepdims", 1)); // [1]
        }

        if (score.Kind == VaeAnomalyScoreKind.NegativeElbo)
        {
            // β · KL = β · (−½) Σ_k (1 + lv − mu² − exp(lv)), one row.
            string one = g.AddFloatInitializer("anomaly.kl.one", [1f]);
            string minusHalfBeta = g.AddFloatInitializer("anomaly.kl.minus_half_beta", [(float)(-0.5 * score.Beta)]);
            string a = g.AddNode("Add", "anomaly.kl.add_one", [logVar, one], "anomaly.kl.a");
            string muSquared = g.AddNode("Mul", "anomaly.kl.mu_squared", ["anomaly.mu", "anomaly.mu"], "anomaly.kl.mu2");
            string b = g.AddNode("Sub", "anomaly.kl.sub_mu2", [a, muSquared], "anomaly.kl.b");
            string variance = g.AddNode("Exp", "anomaly.kl.exp", [logVar], "anomaly.kl.variance");
            string c = g.AddNode("Sub", "anomaly.kl.sub_var", [b, variance], "anomaly.kl.c");
            string latentAxis = g.AddInt64Initializer("anomaly.kl.axis", [1], 1);
            string sum = g.AddNode("ReduceSum", "anomaly.kl.sum", [c, latentAxis], "anomaly.kl.sum", OnnxGraphBuilder.IntAttribute("keepdims", 0)); // [1]
            string kl = g.AddNode("Mul", "anomaly.kl.scale", [sum, minusHalfBeta], "anomaly.kl.weighted");
            perRow = g.AddNode("Add", "anomaly.score", [perRow, kl], "anomaly.raw_score");
        }
        ScoreOverflowNodes.Finish(g, "anomaly.overflow", x, perRow, names.ScoreVector);
        g.AddVectorOutput(names.ScoreVector, 1);

        if (names.PerFeatureError is { } perFeature)
        {
            // The last decoded row is decoder(mu).
            string muRow = difference;
            if (sampling)
            {
                string starts = g.AddInt64Initializer("anomaly.mu_row.starts", [score.Samples], 1);
                string ends = g.AddInt64Initializer("anomaly.mu_row.ends", [score.Samples + 1], 1);
                string axes = g.AddInt64Initializer("anomaly.mu_row.axes", [0], 1);
                muRow = g.AddNode("Slice", "anomaly.mu_row.slice", [difference, starts, ends, axes], "anomaly.mu_difference");
            }
            string squared = g.AddNode("Mul", "anomaly.per_feature.square", [muRow, muRow], "anomaly.per_feature.squared");
            string inputShape = g.AddInt64Initializer("anomaly.input_shape", [inputDim], 1);
            g.AddNode("Reshape", "anomaly.per_feature.vector", [squared, inputShape], perFeature);
            g.AddVectorOutput(perFeature, inputDim);
        }
        return VaeOnnxExporter.Model(g.Graph, doc, Part, weights, metadata);
    }
}

/// <summary>Graph value names of the anomaly row graph: the input column, the temporary score vector and the optional per-feature error column.</summary>
internal sealed record AnomalyRowGraphNames(string Input, string ScoreVector, string? PerFeatureError);
