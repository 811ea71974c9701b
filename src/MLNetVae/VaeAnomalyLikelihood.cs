namespace MLNetVae;

/// <summary>
/// The detector's model of how a feature deviates from its reconstruction: the per-feature term of the training loss,
/// of the validation loss and of the <see cref="VaeAnomalyScoreKind.NegativeElbo"/> score. The featurizer
/// (<see cref="VaeOptions"/>) always uses the design's squared error.
/// </summary>
public enum VaeAnomalyLikelihood
{
    /// <summary>
    /// Gaussian: the squared error r² per feature (r = x − x̂ in the training scale), the design's loss. A feature far
    /// from its reconstruction counts with the square of its distance, so the score ranks rows by their largest
    /// deviations. The default.
    /// </summary>
    Gaussian = 0,

    /// <summary>
    /// Student-t with 2 degrees of freedom: 1.5 · ln(1 + 2r²/3) per feature, which equals r² near r = 0 and grows only
    /// logarithmically beyond. Training is less pulled towards rows that are extreme on a few features, and the score
    /// counts how many features deviate more than by how much. In the evaluation (docs/evaluation.md, S47) it kept the
    /// Gaussian's mean ROC-AUC with about half the losses to IsolationForest: better where anomalies stand out on a few
    /// features (cardio, glass, optdigits), worse where they differ in the features' joint structure (letter, vowels, mnist).
    /// </summary>
    StudentT = 1,
}
