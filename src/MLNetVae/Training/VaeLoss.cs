using TorchSharp;
using static TorchSharp.torch;

namespace MLNetVae.Training;

/// <summary>
/// The design's loss: summed squared error + β · KL(q(z|x) ‖ N(0, I)), summed over the batch; and its trimmed variant for
/// training data that holds anomalies. The detector may replace the squared error by a Student-t term
/// (<see cref="VaeAnomalyLikelihood"/>, chosen by the scalars).
/// </summary>
internal static class VaeLoss
{
    /// <summary>
    /// Loss terms of one batch (each a scalar tensor): the reference's
    /// <c>sum((x̂ − x)²) + β · (−½ · sum(1 + lv − mu² − exp(lv)))</c> with lv = <see cref="Guard(Tensor, double)"/>(logvar).
    /// With an infinite <paramref name="logVarLimit"/> this is exactly the reference.
    /// </summary>
    public static (Tensor Loss, Tensor Reconstruction, Tensor Kl) Compute(
        Tensor reconstruction, Tensor x, Tensor mu, Tensor logVar, double beta, double logVarLimit)
    {
        using var scalars = new TrainingScalars(beta, logVarLimit);
        return Compute(reconstruction, x, mu, logVar, scalars);
    }

    /// <summary>The same with the constants held by the training run (see <see cref="TrainingScalars"/> for why).</summary>
    public static (Tensor Loss, Tensor Reconstruction, Tensor Kl) Compute(
        Tensor reconstruction, Tensor x, Tensor mu, Tensor logVar, TrainingScalars scalars)
    {
        var rec = scalars.Likelihood == VaeAnomalyLikelihood.Gaussian
            ? nn.functional.mse_loss(reconstruction, x, reduction: nn.Reduction.Sum) // the reference's kernel, bit for bit
            : ReconstructionTerms(reconstruction, x, scalars).sum();
        var kl = KlIntegrand(mu, logVar, scalars).sum().mul(scalars.MinusHalf);
        return (rec.add(kl.mul(scalars.Beta), scalars.One), rec, kl);
    }

    /// <summary>
    /// 1 + lv − mu² − exp(lv) per row and latent dimension, lv the guarded logvar; −½ times its sum is the KL term.
    /// Spelled out with held scalars: TorchSharp's operators pass an implicit alpha = 1 to every add (1 + lv is
    /// lv.add(1, alpha: 1)), so the results are identical to the reference's.
    /// </summary>
    internal static Tensor KlIntegrand(Tensor mu, Tensor logVar, TrainingScalars scalars)
    {
        var lv = Guard(logVar, scalars);
        return lv.add(scalars.One, scalars.One).sub(mu.pow(scalars.Two)).sub(lv.exp());
    }

    /// <summary>
    /// The trimmed loss (<see cref="VaeTrainingOptions.TrimmedLossFraction"/>): the per-row terms of
    /// <see cref="Compute(Tensor, Tensor, Tensor, Tensor, TrainingScalars)"/>, of which only the <paramref name="keptRows"/>
    /// rows with the smallest loss are summed. The step differentiates that sum, so the other rows get no gradient, and the
    /// reconstruction and KL terms reported are those of the same kept rows (what training minimizes: the rows left
    /// out are free to fit badly, and their terms would make the reported curve jump).
    /// </summary>
    public static (Tensor Loss, Tensor Reconstruction, Tensor Kl) ComputeTrimmed(
        Tensor reconstruction, Tensor x, Tensor mu, Tensor logVar, TrainingScalars scalars, int keptRows)
    {
        var (lossPerRow, recPerRow, klPerRow) = PerRowTerms(reconstruction, x, mu, logVar, scalars);
        var (kept, keptIndex) = lossPerRow.topk(keptRows, largest: false, sorted: false);
        return (kept.sum(), recPerRow.index_select(0, keptIndex).sum(), klPerRow.index_select(0, keptIndex).sum());
    }

    /// <summary>Each row's loss, reconstruction + β · KL (float32 per row; what <see cref="Compute(Tensor, Tensor, Tensor, Tensor, TrainingScalars)"/> sums).</summary>
    public static Tensor PerRow(Tensor reconstruction, Tensor x, Tensor mu, Tensor logVar, TrainingScalars scalars) =>
        PerRowTerms(reconstruction, x, mu, logVar, scalars).Loss;

    /// <summary>Each row's loss and its two terms, reconstruction and KL.</summary>
    private static (Tensor Loss, Tensor Reconstruction, Tensor Kl) PerRowTerms(Tensor reconstruction, Tensor x, Tensor mu, Tensor logVar,
        TrainingScalars scalars)
    {
        var recPerRow = ReconstructionTerms(reconstruction, x, scalars).sum(1);
        var klPerRow = KlIntegrand(mu, logVar, scalars).sum(1).mul(scalars.MinusHalf);
        return (recPerRow.add(klPerRow.mul(scalars.Beta), scalars.One), recPerRow, klPerRow);
    }

    /// <summary>
    /// The reconstruction term per row and feature: r² (Gaussian), or <see cref="Model.StudentTTerm"/> of it (equal to r²
    /// to first order and logarithmic in the tails). Both rise with |r|, so a worse fit never scores lower.
    /// </summary>
    internal static Tensor ReconstructionTerms(Tensor reconstruction, Tensor x, TrainingScalars scalars)
    {
        var squared = reconstruction.sub(x).pow(scalars.Two);
        return scalars.Likelihood == VaeAnomalyLikelihood.Gaussian
            ? squared
            : squared.mul(scalars.StudentInverseScale).log1p().mul(scalars.StudentWeight);
    }

    /// <summary>
    /// Rows of a batch of <paramref name="batchRows"/> that the trimmed loss keeps: all but the <paramref name="fraction"/>
    /// with the largest loss, rounded to the nearest row, and at least one.
    /// </summary>
    public static int KeptRows(int batchRows, double fraction) =>
        Math.Max(1, batchRows - (int)Math.Round(fraction * batchRows));

    /// <summary>
    /// The training safeguard: logvar clamped from above at <paramref name="limit"/> wherever the loss and the
    /// reparameterization evaluate it. Below the limit values and gradients are untouched (bit-identical training on
    /// every data set that trains without it); above it exp(logvar) cannot overflow, and the clamped entries stop
    /// receiving gradient instead of blowing every weight up to NaN, as the unguarded reference does on Shuttle.
    /// Only training uses it: the network, and so the exported encoder, output the raw logvar.
    /// </summary>
    public static Tensor Guard(Tensor logVar, double limit)
    {
        if (double.IsPositiveInfinity(limit))
            return logVar;
        using var scalar = limit.ToScalar();
        return logVar.clamp_max(scalar);
    }

    /// <summary><see cref="Guard(Tensor, double)"/> with the limit held by the training run.</summary>
    public static Tensor Guard(Tensor logVar, TrainingScalars scalars) =>
        scalars.LogVarLimit is { } limit ? logVar.clamp_max(limit) : logVar;
}
