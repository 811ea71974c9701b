namespace MLNetVae.Model;

/// <summary>
/// The per-feature term of <see cref="VaeAnomalyLikelihood.StudentT"/>: (ν + 1)/2 · ln(1 + r² · 2/(ν + 1)), which equals
/// r² to first order. One definition for the training loss (<c>Training.VaeLoss</c>) and the score graph
/// (<c>Onnx.AnomalyScoreGraph</c>), so the model is scored with the likelihood it was trained on.
/// </summary>
internal static class StudentTTerm
{
    /// <summary>ν, the degrees of freedom.</summary>
    public const double DegreesOfFreedom = 2;

    /// <summary>2 / (ν + 1), the factor of r² inside the logarithm.</summary>
    public const double InverseScale = 2 / (DegreesOfFreedom + 1);

    /// <summary>(ν + 1) / 2, the factor of the logarithm.</summary>
    public const double Weight = (DegreesOfFreedom + 1) / 2;
}
