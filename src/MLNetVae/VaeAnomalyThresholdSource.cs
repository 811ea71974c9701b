namespace MLNetVae;

/// <summary>Where a <see cref="VaeAnomalyTransformer"/>'s threshold came from.</summary>
public enum VaeAnomalyThresholdSource
{
    /// <summary>The (1 − contamination) quantile of the training rows' scores (<see cref="VaeAnomalyOptions.Contamination"/>, <see cref="VaeAnomalyTransformer.WithContamination"/>).</summary>
    Contamination = 0,
    /// <summary>A value given explicitly (<see cref="VaeAnomalyOptions.Threshold"/>, <see cref="VaeAnomalyTransformer.WithThreshold"/>).</summary>
    Explicit = 1,
    /// <summary>Chosen on labelled data for a target false-positive rate (<see cref="VaeAnomalyTransformer.WithThresholdForFalsePositiveRate"/>).</summary>
    FalsePositiveRate = 2,
}
