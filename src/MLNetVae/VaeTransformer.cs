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

    /// <summary>What happened during training; <see langword="null"/> for a model that was loaded rather than trained.</summary>
    public VaeTrainingReport? TrainingReport { get; }

    internal VaeWeights Weights { get; }
}
