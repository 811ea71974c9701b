namespace MLNetVae;

/// <summary>
/// Thrown by <see cref="VaeEstimator.Fit"/> when the training loss stops being finite. No model is returned:
/// a VAE whose weights went to NaN or ∞ would score every row as garbage.
/// </summary>
public sealed class VaeTrainingDivergedException : InvalidOperationException
{
    internal VaeTrainingDivergedException(int epoch, int batch, double loss, string message)
        : base(message)
    {
        Epoch = epoch;
        Batch = batch;
        Loss = loss;
    }

    /// <summary>1-based epoch in which the loss diverged.</summary>
    public int Epoch { get; }

    /// <summary>1-based batch within <see cref="Epoch"/>.</summary>
    public int Batch { get; }

    /// <summary>The non-finite loss value (NaN or ±∞).</summary>
    public double Loss { get; }
}
