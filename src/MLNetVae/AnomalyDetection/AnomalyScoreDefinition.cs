using MLNetVae.Scoring;

namespace MLNetVae.AnomalyDetection;

/// <summary>What fixes a row's anomaly score, besides the trained networks (the threshold is the detector's decision, not part of the score).</summary>
/// <param name="Kind">The score.</param>
/// <param name="Samples">Draws per row for the sampling scores.</param>
/// <param name="Seed">Seed of the noise table of the sampling scores.</param>
/// <param name="Beta">Weight of the KL term in <see cref="VaeAnomalyScoreKind.NegativeElbo"/>.</param>
/// <param name="LogVarianceLimit">Upper clamp of logvar in the draws and the KL term, as in training (see <c>Onnx.ScoreOverflowNodes</c>).</param>
/// <param name="Precision">The arithmetic of the scoring graph's linear layers (the row graph saved in models is float32).</param>
/// <param name="Likelihood">The per-feature term of <see cref="VaeAnomalyScoreKind.NegativeElbo"/>, the one the model was trained with.</param>
internal sealed record AnomalyScoreDefinition(VaeAnomalyScoreKind Kind, int Samples, int Seed, double Beta, float LogVarianceLimit,
    VaeScoringPrecision Precision = VaeScoringPrecision.Float32, VaeAnomalyLikelihood Likelihood = VaeAnomalyLikelihood.Gaussian)
{
    /// <summary>Whether the score decodes random draws of z (every kind but the reconstruction error of mu).</summary>
    public bool IsSampling => Kind != VaeAnomalyScoreKind.ReconstructionError;

    /// <summary>
    /// The draws of the sampling scores, eps[s, k] ~ N(0, 1) for s &lt; <see cref="Samples"/>, k &lt; latent, row-major:
    /// one table per detector, fixed by <see cref="Seed"/>, shared by every row. A row's score is then a function of
    /// the row (common random numbers: rows are compared under the same draws), and the whole score is a fixed
    /// computation that an ONNX graph carries as an initializer.
    /// </summary>
    public float[] NoiseTable(int latentDim)
    {
        var table = new float[Samples * latentDim];
        GaussianNoise.ForSeed(Seed, stream: NoiseStream).Fill(table);
        return table;
    }

    /// <summary>The generator stream of the noise table (stream 0 is <c>VaeTransformer.Sample</c>'s).</summary>
    private const ulong NoiseStream = 2;
}
