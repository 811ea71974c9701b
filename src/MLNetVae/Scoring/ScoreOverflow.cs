using MLNetVae.Data;

namespace MLNetVae.Scoring;

/// <summary>
/// The numeric rules every score follows, on the batched path and (as graph nodes, see
/// <c>Onnx.ScoreOverflowNodes</c>) in saved models, so that a finite row always gets a number:
/// <list type="bullet">
/// <item>log-variances enter a score clamped from above at the training's <c>LogVarianceLimit</c> (training evaluated
/// exp(logvar) only up to that limit, so the score is the training loss of the row; unclamped, exp(logvar) of a far-out
/// row overflows float32 and the score became NaN);</item>
/// <item>a NaN score of a row whose features are all finite can only come from float32 overflow inside the networks
/// (∞ − ∞), i.e. from a row so far out that its true score exceeds float32: it becomes +∞, which is flagged.</item>
/// </list>
/// A row with NaN or ∞ features keeps a NaN score and is never flagged (documented in the README).
/// </summary>
internal static class ScoreOverflow
{
    /// <summary>logvar as the scores use it: at most <paramref name="limit"/>.</summary>
    public static float ClampLogVariance(float logVariance, float limit) => logVariance > limit ? limit : logVariance;

    /// <summary><paramref name="score"/>, or +∞ when it is NaN although every value of <paramref name="input"/> is finite.</summary>
    public static float Finish(float score, ReadOnlySpan<float> input) =>
        float.IsNaN(score) && InputColumn.IsFinite(input) ? float.PositiveInfinity : score;
}
