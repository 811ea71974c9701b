namespace MLNetVae;

/// <summary>Progress of <see cref="VaeEstimator.Fit"/> after one epoch. Losses are per row (the summed loss divided by the row count; with
/// <see cref="VaeTrainingOptions.TrimmedLossFraction"/> the training losses are over the rows the steps kept).</summary>
/// <param name="Epoch">1-based epoch number.</param>
/// <param name="TotalEpochs">The configured maximum number of epochs.</param>
/// <param name="TrainLoss">Training loss per row: <see cref="TrainReconstructionLoss"/> + β · <see cref="TrainKlDivergence"/> (β = <see cref="KlWeight"/> during KL warm-up).</param>
/// <param name="TrainReconstructionLoss">Summed squared reconstruction error per row (in the standardized scale when standardization is on).</param>
/// <param name="TrainKlDivergence">KL(q(z|x) ‖ N(0, I)) per row.</param>
/// <param name="ValidationLoss">Validation loss per row with z = mu (deterministic), or <see langword="null"/> without validation rows.</param>
/// <param name="SamplesPerSecond">Training rows processed per second in this epoch.</param>
/// <param name="Elapsed">Time since training started.</param>
/// <param name="IsBest">Whether this epoch's weights are the best so far (the ones <c>Fit</c> keeps).</param>
/// <param name="KlWeight">The β this epoch trained with: <see cref="VaeTrainingOptions.Beta"/>, or less during KL warm-up
/// (<see cref="VaeTrainingOptions.KlWarmupEpochs"/>); <see cref="TrainLoss"/> uses it. <see langword="null"/> when not recorded.</param>
public sealed record VaeEpochReport(
    int Epoch,
    int TotalEpochs,
    double TrainLoss,
    double TrainReconstructionLoss,
    double TrainKlDivergence,
    double? ValidationLoss,
    double SamplesPerSecond,
    TimeSpan Elapsed,
    bool IsBest,
    double? KlWeight = null)
{
    /// <summary>One line for logs: epoch, losses, validation loss and speed.</summary>
    public override string ToString() =>
        FormattableString.Invariant(
            $"epoch {Epoch}/{TotalEpochs}: loss {TrainLoss:G6} (reconstruction {TrainReconstructionLoss:G6}, KL {TrainKlDivergence:G6})") +
        (ValidationLoss is { } v ? FormattableString.Invariant($", validation {v:G6}{(IsBest ? " *" : "")}") : "") +
        FormattableString.Invariant($", {SamplesPerSecond:F0} rows/s");
}
