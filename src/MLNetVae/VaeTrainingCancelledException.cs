namespace MLNetVae;

/// <summary>
/// Thrown by <see cref="VaeEstimator.Fit"/> and <see cref="VaeAnomalyEstimator.Fit"/> when
/// <see cref="VaeTrainingOptions.CancellationToken"/> is cancelled. It is an <see cref="OperationCanceledException"/>, so
/// code that catches cancellation keeps working, and it also carries the model of the best epoch that completed before
/// the cancellation (<see cref="BestModelSoFar"/>; for the detector also <see cref="BestDetectorSoFar"/>).
/// </summary>
/// <remarks>
/// Why it exists: cancellation must stay an exception (a caller that cancels expects <c>Fit</c> not to return as if
/// training had finished), but an interactive tool that stops a long run with Ctrl+C should not have to throw
/// away the epochs it already paid for. The weights are the ones <c>Fit</c> would have kept at that point: the
/// epoch with the lowest validation loss, or the last completed epoch without validation data. Its
/// <see cref="VaeTransformer.TrainingReport"/> lists the completed epochs and says that training was cancelled.
/// Nothing else changes: a model is never half-trained within an epoch, and without a completed epoch there is none.
/// </remarks>
public sealed class VaeTrainingCancelledException : OperationCanceledException
{
    internal VaeTrainingCancelledException(string message, VaeTransformer? bestModelSoFar, CancellationToken token, Exception? inner,
        VaeAnomalyTransformer? bestDetectorSoFar = null)
        : base(message, inner, token)
    {
        BestModelSoFar = bestModelSoFar;
        BestDetectorSoFar = bestDetectorSoFar;
    }

    /// <summary>
    /// From <see cref="VaeAnomalyEstimator.Fit"/>: the detector built on <see cref="BestModelSoFar"/> (its rows scored and
    /// its threshold set as after a complete training), or <see langword="null"/> (from <see cref="VaeEstimator.Fit"/>, or
    /// when no epoch completed). Its <see cref="VaeAnomalyTransformer.Vae"/> is <see cref="BestModelSoFar"/>.
    /// </summary>
    public VaeAnomalyTransformer? BestDetectorSoFar { get; }

    /// <summary>
    /// The model of the best epoch completed before cancellation, ready to score, save or export; or
    /// <see langword="null"/> when training was cancelled before its first epoch completed. The caller owns it
    /// (dispose it when done, like any <see cref="VaeTransformer"/>).
    /// </summary>
    public VaeTransformer? BestModelSoFar { get; }
}
