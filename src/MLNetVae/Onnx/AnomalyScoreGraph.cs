using Google.Protobuf;
using MLNetVae.AnomalyDetection;
using MLNetVae.Model;
using Onnx;

namespace MLNetVae.Onnx;

/// <summary>
/// The one definition of the detector's scores, as ONNX nodes over a batch of rows <c>x [rows, in]</c>, in float32:
/// <list type="bullet">
/// <item>reconstruction error: mean over features of (x − decoder(mu))²;</item>
/// <item>Monte Carlo reconstruction error: the same for decoder(mu + exp(logvar / 2) · eps_s), averaged over the
/// draws eps_s of the detector's noise table (an initializer, shared by every row);</item>
/// <item>negative ELBO: the mean over the draws of Σ ((x − x̂_s) / scale)² (or of its Student-t term, see
/// <see cref="VaeAnomalyLikelihood"/>), plus β · KL(q(z|x) ‖ N(0, I));</item>
/// <item>per-feature errors: (x − decoder(mu))², in the original scale.</item>
/// </list>
/// Two graphs are built from these nodes: the batch graph the transformer scores blocks of rows with, and the row
/// graph a saved ML.NET model carries (one row in, as <c>ApplyOnnxModel</c> feeds it). Both hold the very same
/// computation, so a loaded model and the detector agree by construction.
/// </summary>
internal static class AnomalyScoreGraph
{
    /// <summary>The <c>mlnetvae.part</c> value of the row graph in saved ML.NET models.</summary>
    public const string RowPart = "mlnet-anomaly-row";

    /// <summary>The <c>mlnetvae.part</c> value of the batch graph (built in memory, never saved).</summary>
    public const string BatchPart = "anomaly-batch";

    /// <summary>Batch graph input: float <c>[rows, in]</c>, original scale.</summary>
    public const string BatchInput = "features";

    /// <summary>Batch graph output: float <c>[rows]</c>.</summary>
    public const string BatchScore = "score";

    /// <summary>Batch graph output: float <c>[rows, in]</c>.</summary>
    public const string BatchPerFeatureError = "per_feature_error";

    /// <summary>The batch graph with the outputs asked for (at least one): the score, the per-feature errors, or both.</summary>
    public static byte[] ExportBatchGraph(VaeWeights weights, AnomalyScoreDefinition score, bool withScore, bool withPerFeatureError)
    {
        if (!withScore && !withPerFeatureError)
            throw new ArgumentException("The batch graph needs at least one output.");
        VaeOnnxExporter.CheckExportable(weights);
        string doc = $"MLNetVae anomaly detector, batch graph ({score.Kind}).";
        var g = new OnnxGraphBuilder("mlnetvae_anomaly_batch", doc);
        g.AddInput(BatchInput, weights.InputDim);
        AddScoreNodes(g, weights, score, BatchInput, withScore ? BatchScore : null, withPerFeatureError ? BatchPerFeatureError : null, score.Precision);
        if (withScore)
            g.AddBatchOutput(BatchScore);
        if (withPerFeatureError)
            g.AddOutput(BatchPerFeatureError, weights.InputDim);
        return VaeOnnxExporter.Model(g.Graph, doc, BatchPart, weights, OnnxModelMetadata.Empty).ToByteArray();
    }

    public static byte[] ExportRowGraph(VaeWeights weights, AnomalyRowGraphNames names, AnomalyScoreDefinition score, OnnxModelMetadata metadata) =>
        BuildRowGraph(weights, names, score, metadata).ToByteArray();

    /// <summary>
    /// The graph a saved ML.NET model carries: one row in (rank 1), the score out as <c>[1]</c> (a mapping makes it a
    /// scalar) and optionally the per-feature squared errors <c>[in]</c>.
    /// </summary>
    public static ModelProto BuildRowGraph(VaeWeights weights, AnomalyRowGraphNames names, AnomalyScoreDefinition score, OnnxModelMetadata metadata)
    {
        VaeOnnxExporter.CheckExportable(weights);
        int inputDim = weights.InputDim;
        string doc = $"MLNetVae anomaly detector for ML.NET model files: '{names.Input}' float[{inputDim}] (one row) → " +
                     $"'{names.ScoreVector}' float[1] ({score.Kind}{(score.IsSampling ? $", {score.Samples} draws" : "")})" +
                     (names.PerFeatureError is null ? "." : $" and '{names.PerFeatureError}' float[{inputDim}] ((x − decoder(mu))² per feature).");
        var g = new OnnxGraphBuilder("mlnetvae_anomaly_row", doc);
        g.AddVectorInput(names.Input, inputDim);

        string rowShape = g.AddInt64Initializer("anomaly.row_shape", [1, inputDim], 2);
        string x = g.AddNode("Reshape", "anomaly.as_matrix", [names.Input, rowShape], "anomaly.x"); // [1, in]
        string? perFeatureMatrix = names.PerFeatureError is null ? null : "anomaly.per_feature_matrix";
        // Always float32: the saved graph is also where a loaded model reads its weights from.
        AddScoreNodes(g, weights, score, x, names.ScoreVector, perFeatureMatrix, VaeScoringPrecision.Float32); // score [1]: one row
        g.AddVectorOutput(names.ScoreVector, 1);

        if (names.PerFeatureError is { } perFeature)
        {
            string inputShape = g.AddInt64Initializer("anomaly.input_shape", [inputDim], 1);
            g.AddNode("Reshape", "anomaly.per_feature.vector", [perFeatureMatrix!, inputShape], perFeature);
            g.AddVectorOutput(perFeature, inputDim);
        }
        return VaeOnnxExporter.Model(g.Graph, doc, RowPart, weights, metadata);
    }

    /// <summary>
    /// Adds the nodes from <paramref name="x"/> (<c>[rows, in]</c>) to the score (<c>[rows]</c>) and/or the per-feature
    /// errors (<c>[rows, in]</c>), written to the given names (null: not computed).
    /// </summary>
    private static void AddScoreNodes(OnnxGraphBuilder g, VaeWeights weights, AnomalyScoreDefinition score, string x, string? scoreOutput, string? perFeatureOutput,
        VaeScoringPrecision precision)
    {
        int inputDim = weights.InputDim, latentDim = weights.LatentDim, samples = score.Samples;
        VaeOnnxExporter.AddEncoder(g, weights, x, "anomaly.mu", "anomaly.logvar", precision);       // [rows, latent] each
        string logVar = ScoreOverflowNodes.ClampLogVariance(g, "anomaly", "anomaly.logvar", score.LogVarianceLimit);

        // One decoder pass for every latent code the outputs need: mu's rows first (the deterministic score and the
        // per-feature errors), then the draws, row i · S + s for draw s of row i (the sampling scores).
        bool decodeMu = perFeatureOutput is not null || (scoreOutput is not null && !score.IsSampling);
        bool decodeDraws = scoreOutput is not null && score.IsSampling;
        // Axis 1: a draw per row ([rows, S, ·]), and the latent sum of the KL term; only the sampling scores use it.
        string middleAxis = decodeDraws ? g.AddInt64Initializer("anomaly.middle_axis", [1], 1) : "";
        var codes = new List<string>();
        if (decodeMu)
            codes.Add("anomaly.mu");
        if (decodeDraws)
        {
            string noise = g.AddFloatInitializer("anomaly.noise", score.NoiseTable(latentDim), samples, latentDim);
            string half = g.AddFloatInitializer("anomaly.half", [0.5f]);
            string halfLogVar = g.AddNode("Mul", "anomaly.sigma.half", [logVar, half], "anomaly.half_logvar");
            string sigma = g.AddNode("Exp", "anomaly.sigma.exp", [halfLogVar], "anomaly.sigma");
            string sigmas = g.AddNode("Unsqueeze", "anomaly.sigma.per_draw", [sigma, middleAxis], "anomaly.sigma3");   // [rows, 1, latent]
            string mus = g.AddNode("Unsqueeze", "anomaly.mu.per_draw", ["anomaly.mu", middleAxis], "anomaly.mu3");
            string scaled = g.AddNode("Mul", "anomaly.draws.scale", [sigmas, noise], "anomaly.scaled_noise");        // [rows, S, latent]
            string draws = g.AddNode("Add", "anomaly.draws.shift", [mus, scaled], "anomaly.draws3");
            string drawShape = g.AddInt64Initializer("anomaly.draws.shape", [-1, latentDim], 2);
            codes.Add(g.AddNode("Reshape", "anomaly.draws.rows", [draws, drawShape], "anomaly.draws"));              // [rows · S, latent]
        }
        string z = codes.Count == 1 ? codes[0] : g.AddNode("Concat", "anomaly.codes", codes.ToArray(), "anomaly.codes", OnnxGraphBuilder.IntAttribute("axis", 0));
        VaeOnnxExporter.AddDecoder(g, weights, z, "anomaly.decoded", precision);

        string? muDecoded = null, drawsDecoded = null;
        if (decodeMu && decodeDraws)
        {
            // Split after the first `rows` decoded rows.
            string shape = g.AddNode("Shape", "anomaly.rows.shape", [x], "anomaly.x_shape");
            string zero = g.AddInt64Initializer("anomaly.rows.zero", [0], 1);
            string one = g.AddInt64Initializer("anomaly.rows.one", [1], 1);
            string end = g.AddInt64Initializer("anomaly.rows.end", [long.MaxValue], 1);
            string rows = g.AddNode("Slice", "anomaly.rows.count", [shape, zero, one, zero], "anomaly.rows");       // [1]
            muDecoded = g.AddNode("Slice", "anomaly.mu_rows", ["anomaly.decoded", zero, rows, zero], "anomaly.mu_decoded");
            drawsDecoded = g.AddNode("Slice", "anomaly.draw_rows", ["anomaly.decoded", rows, end, zero], "anomaly.draws_decoded");
        }
        else if (decodeMu)
            muDecoded = "anomaly.decoded";
        else
            drawsDecoded = "anomaly.decoded";

        string? rawScore = null; // the score before the overflow rule, [rows]
        if (muDecoded is not null)
        {
            string difference = g.AddNode("Sub", "anomaly.mu.difference", [x, muDecoded], "anomaly.mu_difference");
            string squared = g.AddNode("Mul", "anomaly.mu.square", [difference, difference], perFeatureOutput ?? "anomaly.mu_squared");
            if (scoreOutput is not null && !score.IsSampling)
                rawScore = g.AddNode("ReduceMean", "anomaly.mse", [squared], "anomaly.mse",
                    OnnxGraphBuilder.IntsAttribute("axes", 1), OnnxGraphBuilder.IntAttribute("keepdims", 0));
        }
        if (drawsDecoded is not null)
        {
            string perDrawShape = g.AddInt64Initializer("anomaly.draws.decoded_shape", [-1, samples, inputDim], 3);
            string decoded = g.AddNode("Reshape", "anomaly.draws.per_row", [drawsDecoded, perDrawShape], "anomaly.draws_decoded3"); // [rows, S, in]
            string xs = g.AddNode("Unsqueeze", "anomaly.x.per_draw", [x, middleAxis], "anomaly.x3");                                // [rows, 1, in]
            string difference = g.AddNode("Sub", "anomaly.draws.difference", [xs, decoded], "anomaly.draw_differences");
            string featureAxis = g.AddInt64Initializer("anomaly.draws.feature_axis", [2], 1);
            string perDraw;
            if (score.Kind == VaeAnomalyScoreKind.NegativeElbo)
            {
                // Squared error in the scale the network was trained in: divide by the standardization scale.
                string standardized = weights.Standardization is null
                    ? difference
                    : g.AddNode("Div", "anomaly.elbo.unscale", [difference, VaeOnnxExporter.ScaleInitializer], "anomaly.standardized_differences");
                string squared = g.AddNode("Mul", "anomaly.elbo.square", [standardized, standardized], "anomaly.elbo.squared");
                string terms = score.Likelihood == VaeAnomalyLikelihood.Gaussian ? squared : AddStudentTerms(g, squared);
                perDraw = g.AddNode("ReduceSum", "anomaly.elbo.sum", [terms, featureAxis], "anomaly.elbo.per_draw",
                    OnnxGraphBuilder.IntAttribute("keepdims", 0));                                                               // [rows, S]
            }
            else
            {
                string squared = g.AddNode("Mul", "anomaly.mc.square", [difference, difference], "anomaly.mc.squared");
                perDraw = g.AddNode("ReduceMean", "anomaly.mc.mean", [squared], "anomaly.mc.per_draw",
                    OnnxGraphBuilder.IntsAttribute("axes", 2), OnnxGraphBuilder.IntAttribute("keepdims", 0));                   // [rows, S]
            }
            rawScore = g.AddNode("ReduceMean", "anomaly.draws.mean", [perDraw], "anomaly.reconstruction_term",
                OnnxGraphBuilder.IntsAttribute("axes", 1), OnnxGraphBuilder.IntAttribute("keepdims", 0));                       // [rows]

            if (score.Kind == VaeAnomalyScoreKind.NegativeElbo)
            {
                // β · KL = β · (−½) Σ_k (1 + lv − mu² − exp(lv)), per row.
                string one = g.AddFloatInitializer("anomaly.kl.one", [1f]);
                string minusHalfBeta = g.AddFloatInitializer("anomaly.kl.minus_half_beta", [(float)(-0.5 * score.Beta)]);
                string a = g.AddNode("Add", "anomaly.kl.add_one", [logVar, one], "anomaly.kl.a");
                string muSquared = g.AddNode("Mul", "anomaly.kl.mu_squared", ["anomaly.mu", "anomaly.mu"], "anomaly.kl.mu2");
                string b = g.AddNode("Sub", "anomaly.kl.sub_mu2", [a, muSquared], "anomaly.kl.b");
                string variance = g.AddNode("Exp", "anomaly.kl.exp", [logVar], "anomaly.kl.variance");
                string c = g.AddNode("Sub", "anomaly.kl.sub_var", [b, variance], "anomaly.kl.c");
                string sum = g.AddNode("ReduceSum", "anomaly.kl.sum", [c, middleAxis], "anomaly.kl.sum", OnnxGraphBuilder.IntAttribute("keepdims", 0)); // [rows]
                string kl = g.AddNode("Mul", "anomaly.kl.scale", [sum, minusHalfBeta], "anomaly.kl.weighted");
                rawScore = g.AddNode("Add", "anomaly.score", [rawScore, kl], "anomaly.raw_score");
            }
        }
        if (scoreOutput is not null)
            ScoreOverflowNodes.Finish(g, "anomaly.overflow", x, rawScore!, scoreOutput);
    }

    /// <summary>
    /// The Student-t term of each squared error (<see cref="StudentTTerm"/>), as training computes it. ONNX has no Log1p; ln(1 + u) loses only u's digits below float32's
    /// epsilon next to 1, which changes no ranking. An overflowing r² (+∞) stays +∞, and the overflow rule flags the row.
    /// </summary>
    private static string AddStudentTerms(OnnxGraphBuilder g, string squared)
    {
        string inverseScale = g.AddFloatInitializer("anomaly.student.inverse_scale", [(float)StudentTTerm.InverseScale]);
        string one = g.AddFloatInitializer("anomaly.student.one", [1f]);
        string weight = g.AddFloatInitializer("anomaly.student.weight", [(float)StudentTTerm.Weight]);
        string scaled = g.AddNode("Mul", "anomaly.student.scale", [squared, inverseScale], "anomaly.student.scaled");
        string shifted = g.AddNode("Add", "anomaly.student.add_one", [scaled, one], "anomaly.student.shifted");
        string logarithm = g.AddNode("Log", "anomaly.student.log", [shifted], "anomaly.student.log");
        return g.AddNode("Mul", "anomaly.student.weigh", [logarithm, weight], "anomaly.student.terms");
    }
}

/// <summary>Graph value names of the anomaly row graph: the input column, the temporary score vector and the optional per-feature error column.</summary>
internal sealed record AnomalyRowGraphNames(string Input, string ScoreVector, string? PerFeatureError);
