using static TorchSharp.torch;

namespace MLNetVae.Training;

/// <summary>The design's loss: summed squared error + β · KL(q(z|x) ‖ N(0, I)), summed over the batch.</summary>
internal static class VaeLoss
{
    /// <summary>
    /// Loss terms of one batch (each a scalar tensor): the reference's
    /// <c>sum((x̂ − x)²) + β · (−½ · sum(1 + lv − mu² − exp(lv)))</c> with lv = <see cref="Guard"/>(logvar).
    /// With an infinite <paramref name="logVarLimit"/> this is exactly the reference.
    /// </summary>
    public static (Tensor Loss, Tensor Reconstruction, Tensor Kl) Compute(
        Tensor reconstruction, Tensor x, Tensor mu, Tensor logVar, double beta, double logVarLimit)
    {
        var rec = nn.functional.mse_loss(reconstruction, x, reduction: nn.Reduction.Sum);
        var lv = Guard(logVar, logVarLimit);
        var kl = (1 + lv - mu.pow(2) - lv.exp()).sum() * -0.5;
        return (rec + kl * beta, rec, kl);
    }

    /// <summary>
    /// The training safeguard: logvar clamped from above at <paramref name="limit"/> wherever the loss and the
    /// reparameterization evaluate it. Below the limit values and gradients are untouched (bit-identical training on
    /// every data set that trains without it); above it exp(logvar) cannot overflow, and the clamped entries stop
    /// receiving gradient instead of blowing every weight up to NaN, as the unguarded reference does on Shuttle.
    /// Only training uses it: the network, and so the exported encoder, output the raw logvar.
    /// </summary>
    public static Tensor Guard(Tensor logVar, double limit) =>
        double.IsPositiveInfinity(limit) ? logVar : logVar.clamp_max(limit);
}
