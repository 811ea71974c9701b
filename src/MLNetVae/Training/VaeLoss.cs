using static TorchSharp.torch;

namespace MLNetVae.Training;

/// <summary>The design's loss: summed squared error + β · KL(q(z|x) ‖ N(0, I)), summed over the batch.</summary>
internal static class VaeLoss
{
    /// <summary>
    /// Loss terms of one batch (each a scalar tensor). <paramref name="logVarLimit"/> guards the
    /// exp(logvar) of the KL term (see <see cref="SafeExp"/>); with it infinite this is exactly the reference.
    /// </summary>
    public static (Tensor Loss, Tensor Reconstruction, Tensor Kl) Compute(
        Tensor reconstruction, Tensor x, Tensor mu, Tensor logVar, double beta, double logVarLimit)
    {
        var rec = nn.functional.mse_loss(reconstruction, x, reduction: nn.Reduction.Sum);
        var variance = SafeExp(logVar, logVarLimit);
        var kl = (1 + logVar - mu.pow(2) - variance).sum() * -0.5;
        return (rec + kl * beta, rec, kl);
    }

    /// <summary>
    /// exp(t) for t ≤ limit, continued as the tangent line e^limit · (1 + t − limit) above it.
    /// Below the limit the value and gradient are exp's own; above it they stay finite and keep
    /// pushing t back down, where a plain exp overflows to ∞ and turns every weight into NaN
    /// (the reference does this on standardized Shuttle data in its first epoch).
    /// </summary>
    public static Tensor SafeExp(Tensor t, double limit)
    {
        if (double.IsPositiveInfinity(limit))
            return t.exp();
        using var clamped = t.clamp_max(limit);
        using var inside = clamped.exp();
        using var tail = (t - limit + 1) * Math.Exp(limit);
        using var above = t.gt(limit);
        return where(above, tail, inside);
    }
}
