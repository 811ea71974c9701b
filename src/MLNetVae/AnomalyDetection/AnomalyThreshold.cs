namespace MLNetVae.AnomalyDetection;

/// <summary>A detector's threshold and where it came from (what <c>VaeAnomalyTransformer</c> reports and saves).</summary>
/// <param name="Value">A row is an anomaly when its score is above this.</param>
/// <param name="Source">How it was chosen.</param>
/// <param name="Contamination">The contamination it is the quantile for, when <paramref name="Source"/> is Contamination.</param>
/// <param name="FalsePositiveRate">The target false-positive rate, when <paramref name="Source"/> is FalsePositiveRate.</param>
internal sealed record AnomalyThreshold(float Value, VaeAnomalyThresholdSource Source, double? Contamination = null, double? FalsePositiveRate = null)
{
    /// <summary>A threshold given as a value.</summary>
    public static AnomalyThreshold Explicit(float value) => new(value, VaeAnomalyThresholdSource.Explicit);

    /// <summary>No row is flagged: the detector's state while its own rows are scored during <c>Fit</c>.</summary>
    public static AnomalyThreshold None { get; } = Explicit(float.PositiveInfinity);
}

/// <summary>
/// The scores a detector keeps from <c>Fit</c>, each sorted ascending: its training rows', and the rows its contamination
/// threshold is a quantile of (the held-out rows, or the training rows' again when none were held out).
/// </summary>
internal sealed record CalibrationScores(float[] Training, float[] Calibration)
{
    public static CalibrationScores Empty { get; } = new([], []);
}
