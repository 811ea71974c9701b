namespace MLNetVae.Onnx;

/// <summary>
/// The numeric rules every score follows, as graph nodes shared by every score graph (batched and saved), so that a
/// finite row always gets a number:
/// <list type="bullet">
/// <item>log-variances enter a score clamped from above at the training's <c>LogVarianceLimit</c> (training evaluated
/// exp(logvar) only up to that limit, so the score is the training loss of the row; unclamped, exp(logvar) of a far-out
/// row overflows float32 and the score became NaN);</item>
/// <item>a NaN score of a row whose features are all finite can only come from float32 overflow inside the networks
/// (∞ − ∞), i.e. from a row so far out that its true score exceeds float32: it becomes +∞, which is flagged.</item>
/// </list>
/// A row with NaN or ∞ features keeps a NaN score and is never flagged (documented in the README).
/// </summary>
internal static class ScoreOverflowNodes
{
    /// <summary>min(<paramref name="logVariance"/>, <paramref name="limit"/>), elementwise.</summary>
    public static string ClampLogVariance(OnnxGraphBuilder g, string prefix, string logVariance, float limit)
    {
        string bound = g.AddFloatInitializer($"{prefix}.logvar_limit", [limit]);
        return g.AddNode("Min", $"{prefix}.logvar_clamp", [logVariance, bound], $"{prefix}.logvar_clamped");
    }

    /// <summary>
    /// <paramref name="score"/> (<c>[rows]</c>) with NaN replaced by +∞ in rows whose input (<paramref name="input"/>,
    /// <c>[rows, in]</c>) is all finite; writes <paramref name="output"/>.
    /// </summary>
    public static void Finish(OnnxGraphBuilder g, string prefix, string input, string score, string output)
    {
        string zero = g.AddFloatInitializer($"{prefix}.zero", [0f]);
        string infinity = g.AddFloatInitializer($"{prefix}.infinity", [float.PositiveInfinity]);
        string axis = g.AddInt64Initializer($"{prefix}.feature_axis", [1], 1);
        // Σ x · 0 is NaN exactly when a feature is NaN or ±∞.
        string zeros = g.AddNode("Mul", $"{prefix}.input_times_zero", [input, zero], $"{prefix}.input_times_zero");
        string probe = g.AddNode("ReduceSum", $"{prefix}.finite_probe", [zeros, axis], $"{prefix}.finite_probe",
            OnnxGraphBuilder.IntAttribute("keepdims", 0));
        string inputNotFinite = g.AddNode("IsNaN", $"{prefix}.input_not_finite", [probe], $"{prefix}.input_not_finite");
        string inputFinite = g.AddNode("Not", $"{prefix}.input_finite", [inputNotFinite], $"{prefix}.input_finite");
        string scoreNaN = g.AddNode("IsNaN", $"{prefix}.score_nan", [score], $"{prefix}.score_nan");
        string overflowed = g.AddNode("And", $"{prefix}.overflowed", [scoreNaN, inputFinite], $"{prefix}.overflowed");
        g.AddNode("Where", $"{prefix}.to_infinity", [overflowed, infinity, score], output);
    }
}
