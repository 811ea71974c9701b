namespace MLNetVae;

/// <summary>How <see cref="VaeAnomalyTransformer"/> turns a row into an anomaly score (higher = more anomalous).</summary>
public enum VaeAnomalyScoreKind
{
    /// <summary>
    /// Mean squared error between the row and decoder(mu), in the input's original scale: deterministic, the same
    /// value as <see cref="VaeTransformer"/>'s reconstruction error column. The cheapest score (one decoder pass).
    /// </summary>
    ReconstructionError = 0,

    /// <summary>
    /// Mean over <see cref="VaeAnomalyOptions.MonteCarloSamples"/> draws z ~ q(z|x) = N(mu, σ²) of the mean squared
    /// error of decoder(z), in the original scale. The draws come from one noise table per detector, fixed by its seed
    /// and shared by every row, so a row always gets the same score, whatever the block size, cursor parallelism or row
    /// order, and rows are compared under the same draws.
    /// </summary>
    MonteCarloReconstructionError = 1,

    /// <summary>
    /// The negative evidence lower bound the model was trained on, per row: the summed squared error of decoder(z)
    /// (averaged over <see cref="VaeAnomalyOptions.MonteCarloSamples"/> draws, seeded as for
    /// <see cref="MonteCarloReconstructionError"/>) plus β · KL(q(z|x) ‖ N(0, I)). The squared error is measured in the
    /// scale the network was trained in (standardized when <see cref="VaeTrainingOptions.Standardize"/> is on), so every
    /// feature counts alike whatever its units. The default.
    /// </summary>
    NegativeElbo = 2,
}
