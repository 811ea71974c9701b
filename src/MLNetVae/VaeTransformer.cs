using Microsoft.ML.Runtime;
using MLNetVae.Model;

namespace MLNetVae;

/// <summary>
/// A trained variational autoencoder. Adds the latent mean (<see cref="VaeOptions.MuColumnName"/>), log-variance,
/// reconstruction and reconstruction error columns to any data view with the trained input column.
/// </summary>
public sealed partial class VaeTransformer
{
    private readonly IHostEnvironment environment;
    private readonly VaeOptions options;

    internal VaeTransformer(IHostEnvironment environment, VaeOptions options, VaeWeights weights, VaeTrainingReport? trainingReport)
    {
        this.environment = environment;
        this.options = options.Clone();
        this.options.Progress = null;
        this.options.CancellationToken = default;
        Weights = weights;
        TrainingReport = trainingReport;
    }

    /// <summary>Number of input features.</summary>
    public int InputDim => Weights.InputDim;

    /// <summary>Width of the hidden layers.</summary>
    public int HiddenDim => Weights.HiddenDim;

    /// <summary>Size of the latent space.</summary>
    public int LatentDim => Weights.LatentDim;

    /// <summary>Whether the model standardizes its input (the statistics are part of the model).</summary>
    public bool IsStandardized => Weights.Standardization is not null;

    /// <summary>The options the model was trained with (progress and cancellation are not kept).</summary>
    public VaeOptions Options => options.Clone();

    /// <summary>The arithmetic this transformer scores with (<see cref="VaeTrainingOptions.ScoringPrecision"/>).</summary>
    public VaeScoringPrecision ScoringPrecision => options.ScoringPrecision;

    /// <summary>
    /// A transformer with the same trained model that scores with <paramref name="precision"/>: for example
    /// <see cref="VaeScoringPrecision.Int8"/>, about twice the rows per second, outputs within the quantization error of
    /// float32 (docs/benchmarks.md). The weights are shared; the new transformer has its own ONNX Runtime sessions, and
    /// saving it saves the precision.
    /// </summary>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="precision"/> is not a <see cref="VaeScoringPrecision"/> value.</exception>
    public VaeTransformer WithScoringPrecision(VaeScoringPrecision precision)
    {
        if (!Enum.IsDefined(precision))
            throw new ArgumentOutOfRangeException(nameof(precision), precision,
                $"The scoring precision is {precision}; it must be one of {string.Join(", ", Enum.GetNames<VaeScoringPrecision>())}.");
        var copy = options.Clone();
        copy.ScoringPrecision = precision;
        return new VaeTransformer(environment, copy, Weights, TrainingReport);
    }

    /// <summary>What happened during training (kept in saved models, so a loaded model has it too); <see langword="null"/> only when the file held none.</summary>
    public VaeTrainingReport? TrainingReport { get; }

    internal VaeWeights Weights { get; }
}
