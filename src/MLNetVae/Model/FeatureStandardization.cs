namespace MLNetVae.Model;

/// <summary>
/// Per-feature standardization fitted on the training data: the network sees
/// <c>(x - Mean) / Scale</c> and its reconstruction is mapped back with <c>x̂ · Scale + Mean</c>.
/// It is part of the model, so the exported ONNX encoder and decoder each carry it.
/// </summary>
internal sealed class FeatureStandardization
{
    public FeatureStandardization(float[] mean, float[] scale)
    {
        ArgumentNullException.ThrowIfNull(mean);
        ArgumentNullException.ThrowIfNull(scale);
        if (mean.Length != scale.Length)
            throw new ArgumentException($"Mean has {mean.Length} values but Scale has {scale.Length}.", nameof(scale));
        if (scale.Any(s => !(s > 0) || !float.IsFinite(s)))
            throw new ArgumentException("Every scale must be finite and positive.", nameof(scale));
        Mean = mean;
        Scale = scale;
    }

    public float[] Mean { get; }

    /// <summary>Standard deviation per feature, raised to the variance floor (never zero).</summary>
    public float[] Scale { get; }

    public int Dimension => Mean.Length;
}
