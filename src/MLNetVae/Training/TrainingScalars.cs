using MLNetVae.Model;
using TorchSharp;

namespace MLNetVae.Training;

/// <summary>
/// The constants of the loss and the reparameterization as TorchSharp <see cref="Scalar"/>s that live as long as the
/// training run.
/// </summary>
/// <remarks>
/// Why not write <c>t * 0.5</c>: TorchSharp 0.107 turns the 0.5 into a temporary <see cref="Scalar"/> and passes only
/// its native handle to libtorch, without keeping the managed object alive for the call. A garbage collection on
/// another thread can then finalize the temporary, freeing the native scalar while libtorch reads it; training fails at
/// random with "Expected false to be true" or "INTERNAL ASSERT FAILED at c10/core/Scalar.h". Under a background
/// thread that collects garbage in a loop, 20 of 20 small trainings failed that way (a notebook kernel hit it by
/// itself). Scalars held in fields and disposed after training cannot be finalized early. Every training-time tensor
/// operation that takes a number uses one of these (and <see cref="VaeAdam"/> does the same for the optimizer).
/// </remarks>
internal sealed class TrainingScalars : IDisposable
{
    public TrainingScalars(double beta, double logVarLimit, VaeAnomalyLikelihood likelihood = VaeAnomalyLikelihood.Gaussian)
    {
        Likelihood = likelihood;
        // The same Scalar types the literals had (int 1 and 2, double otherwise), so the kernels and results are identical.
        One = 1.ToScalar();
        Two = 2.ToScalar();
        Half = 0.5.ToScalar();
        MinusHalf = (-0.5).ToScalar();
        Beta = beta.ToScalar();
        LogVarLimit = double.IsPositiveInfinity(logVarLimit) ? null : logVarLimit.ToScalar();
        StudentInverseScale = StudentTTerm.InverseScale.ToScalar();
        StudentWeight = StudentTTerm.Weight.ToScalar();
    }

    /// <summary>The per-feature term of the loss.</summary>
    public VaeAnomalyLikelihood Likelihood { get; }

    /// <summary><see cref="StudentTTerm.InverseScale"/>.</summary>
    public Scalar StudentInverseScale { get; }

    /// <summary><see cref="StudentTTerm.Weight"/>.</summary>
    public Scalar StudentWeight { get; }

    public Scalar One { get; }
    public Scalar Two { get; }
    public Scalar Half { get; }
    public Scalar MinusHalf { get; }
    public Scalar Beta { get; }

    /// <summary>The upper clamp of logvar, or null for none (an infinite <see cref="VaeTrainingOptions.LogVarianceLimit"/>).</summary>
    public Scalar? LogVarLimit { get; }

    public void Dispose()
    {
        One.Dispose();
        Two.Dispose();
        Half.Dispose();
        MinusHalf.Dispose();
        Beta.Dispose();
        LogVarLimit?.Dispose();
        StudentInverseScale.Dispose();
        StudentWeight.Dispose();
    }
}
