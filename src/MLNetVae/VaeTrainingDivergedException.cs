namespace MLNetVae;

/// <summary>
/// Thrown by <see cref="VaeEstimator.Fit"/> and <see cref="VaeAnomalyEstimator.Fit"/> when training diverges: the loss
/// stops being finite, or runs away while staying finite (more than a thousand times the loss of reconstructing every
/// row as zero), or the trained detector scores so many of its own training rows as +∞ that no threshold can be set.
/// No model is returned: such a model would score every row as garbage. <see cref="SuspectedOption"/> names the option
/// most likely at fault, and the message says what to try.
/// </summary>
public sealed class VaeTrainingDivergedException : InvalidOperationException
{
    internal VaeTrainingDivergedException(int epoch, int batch, double loss, string suspectedOption, string message)
        : base(message)
    {
        Epoch = epoch;
        Batch = batch;
        Loss = loss;
        SuspectedOption = suspectedOption;
    }

    /// <summary>The option most likely at fault, e.g. <c>"LearningRate"</c> or <c>"Beta"</c>.</summary>
    public string SuspectedOption { get; }

    /// <summary>1-based epoch in which the loss diverged.</summary>
    public int Epoch { get; }

    /// <summary>1-based batch within <see cref="Epoch"/>; 0 when the check ran at the end of the epoch.</summary>
    public int Batch { get; }

    /// <summary>The loss per row (or batch) that showed the divergence: NaN, ±∞, or a finite value that ran away.</summary>
    public double Loss { get; }
}
