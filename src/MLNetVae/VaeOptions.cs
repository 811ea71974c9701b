namespace MLNetVae;

/// <summary>
/// Options of <see cref="VaeEstimator"/>: the size of the network, the training schedule and the
/// names of the columns it reads and writes.
/// </summary>
/// <remarks>
/// The network is fixed by design: encoder <c>Linear(in,hidden)-ReLU-Linear(hidden,hidden)-ReLU-Linear(hidden,2·latent)</c>
/// split into the latent mean and log-variance, decoder <c>Linear(latent,hidden)-ReLU-Linear(hidden,hidden)-ReLU-Linear(hidden,in)</c>,
/// loss = summed squared reconstruction error + <see cref="VaeTrainingOptions.Beta"/> · KL(q(z|x) ‖ N(0, I)). The input size comes
/// from the input column. Call <see cref="Validate"/> to check a set of options without training.
/// </remarks>
public sealed class VaeOptions : VaeTrainingOptions
{
    /// <summary>Default values of <see cref="VaeOptions"/>, in the style of ML.NET's own <c>Options.Defaults</c>.</summary>
    public static class Defaults
    {
        /// <summary>Name of the input column: a known-size vector of <see cref="float"/>.</summary>
        public const string InputColumnName = "Features";
        /// <summary>Width of the two hidden layers of encoder and decoder.</summary>
        public const int HiddenDim = 512;
        /// <summary>Size of the latent space.</summary>
        public const int LatentDim = 256;
        /// <summary>Weight of the KL term. Small values make the model close to a plain autoencoder.</summary>
        public const double Beta = 0.01;
        /// <summary>Maximum number of passes over the training rows.</summary>
        public const int Epochs = 50;
        /// <summary>Rows per optimizer step.</summary>
        public const int BatchSize = 256;
        /// <summary>Adam learning rate.</summary>
        public const double LearningRate = 1e-3;
        /// <summary>Fraction of the rows held out to measure validation loss (early stopping and best-weight selection).</summary>
        public const double ValidationFraction = 0.1;
        /// <summary>Epochs without validation improvement before training stops; 0 disables early stopping.</summary>
        public const int EarlyStoppingPatience = 10;
        /// <summary>Epochs over which the KL weight ramps up from 0 to <see cref="VaeTrainingOptions.Beta"/>; 0 turns warm-up off.</summary>
        public const int KlWarmupEpochs = 0;
        /// <summary>
        /// A latent dimension counts as active when the variance of its mean over the training rows exceeds this
        /// (Burda et al., 2016); see <see cref="VaeTrainingReport.ActiveLatentDimensions"/>.
        /// </summary>
        public const double ActiveLatentVarianceThreshold = 0.01;
        /// <summary>Whether features are standardized with a per-feature mean and standard deviation fitted on the training rows.</summary>
        public const bool Standardize = true;
        /// <summary>Smallest per-feature scale, as a fraction of the mean standard deviation of all features (see <see cref="VaeTrainingOptions.StandardizeScaleFloor"/>).</summary>
        public const double StandardizeScaleFloor = 0.01;
        /// <summary>Share of each batch's rows left out of the training step (see <see cref="VaeTrainingOptions.TrimmedLossFraction"/>): none, the design's loss.</summary>
        public const double TrimmedLossFraction = 0;
        /// <summary>Largest log-variance the training loss evaluates (an upper clamp, see <see cref="VaeTrainingOptions.LogVarianceLimit"/>; very negative values are left as they are).</summary>
        public const double LogVarianceLimit = 20;
        /// <summary>Whether <c>Fit</c> leaves out training rows that hold NaN or ±∞ instead of refusing the data.</summary>
        public const bool SkipNonFiniteRows = false;
        /// <summary>Name of the output column holding the latent mean.</summary>
        public const string MuColumnName = "Mu";
        /// <summary>Name of the output column holding the latent log-variance.</summary>
        public const string LogVarColumnName = "LogVar";
        /// <summary>Name of the output column holding the reconstruction decoded from the latent mean.</summary>
        public const string ReconstructionColumnName = "Reconstruction";
        /// <summary>Name of the output column holding the per-row mean squared reconstruction error.</summary>
        public const string ReconstructionErrorColumnName = "ReconstructionError";
    }

    /// <summary>Input column: a known-size vector of <see cref="float"/> (dense or sparse).</summary>
    public string InputColumnName { get; set; } = Defaults.InputColumnName;

    /// <summary>Width of the hidden layers. Must be positive.</summary>
    public int HiddenDim { get; set; } = Defaults.HiddenDim;

    /// <summary>Size of the latent space (the length of the <see cref="MuColumnName"/> column). Must be positive.</summary>
    public int LatentDim { get; set; } = Defaults.LatentDim;

    /// <summary>Maximum number of epochs. Must be positive.</summary>
    public int Epochs { get; set; } = Defaults.Epochs;

    /// <summary>Output column of the latent mean (vector of <see cref="LatentDim"/> floats).</summary>
    public string MuColumnName { get; set; } = Defaults.MuColumnName;

    /// <summary>Output column of the latent log-variance, log σ² (vector of <see cref="LatentDim"/> floats).</summary>
    public string LogVarColumnName { get; set; } = Defaults.LogVarColumnName;

    /// <summary>Output column of the reconstruction decoded from the latent mean, in the input's original scale.</summary>
    public string ReconstructionColumnName { get; set; } = Defaults.ReconstructionColumnName;

    /// <summary>Output column of the mean squared error between input and reconstruction, in the input's original scale.</summary>
    public string ReconstructionErrorColumnName { get; set; } = Defaults.ReconstructionErrorColumnName;

    /// <summary>
    /// The per-feature term of the training and validation losses. Not public: the featurizer keeps the design's squared
    /// error; only the anomaly detector sets it (<see cref="VaeAnomalyOptions.Likelihood"/>), for the VAE it trains.
    /// </summary>
    internal VaeAnomalyLikelihood Likelihood { get; set; } = VaeAnomalyLikelihood.Gaussian;

    /// <summary>A shallow copy, so an estimator is not affected by later changes to the caller's instance.</summary>
    internal VaeOptions Clone() => (VaeOptions)MemberwiseClone();

    /// <summary>
    /// Checks every option and throws <see cref="ArgumentOutOfRangeException"/> or <see cref="ArgumentException"/>
    /// naming the first invalid one, its value and the allowed range. Called by the estimator before any work starts.
    /// </summary>
    public void Validate()
    {
        RequireName(InputColumnName, nameof(InputColumnName));
        RequirePositive(HiddenDim, nameof(HiddenDim));
        RequirePositive(LatentDim, nameof(LatentDim));
        RequirePositive(Epochs, nameof(Epochs));
        ValidateTrainingSettings();
        // Each layer's weights are one array (C# and libtorch); sizes whose product overflows would fail deep inside.
        RequireLayerFits(HiddenDim, HiddenDim, nameof(HiddenDim), HiddenDim, "HiddenDim x HiddenDim");
        RequireLayerFits(HiddenDim, 2L * LatentDim, nameof(LatentDim), LatentDim, "HiddenDim x 2·LatentDim");

        RequireDistinctOutputs(InputColumnName, "input column",
        [
            (MuColumnName, nameof(MuColumnName)), (LogVarColumnName, nameof(LogVarColumnName)),
            (ReconstructionColumnName, nameof(ReconstructionColumnName)),
            (ReconstructionErrorColumnName, nameof(ReconstructionErrorColumnName)),
        ]);
    }

    /// <summary>The checks that need the input size: the first and last layers (input x HiddenDim) must fit in one array.</summary>
    internal void ValidateForInput(int inputDim)
    {
        if (inputDim > MaxInputDim)
            throw new ArgumentOutOfRangeException(nameof(inputDim), inputDim,
                $"Input column '{InputColumnName}' has {inputDim:N0} features; at most {MaxInputDim:N0} are supported. " +
                "Reduce the features first, e.g. with ml.Transforms.ProjectToPrincipalComponents.");
        RequireLayerFits(HiddenDim, inputDim, nameof(HiddenDim), HiddenDim, $"input size ({inputDim}) x HiddenDim");
        // One batch of rows is one array on the streaming path (and one tensor in memory).
        if ((long)BatchSize * inputDim > Array.MaxLength)
            throw OutOfRange(nameof(BatchSize), BatchSize,
                $"small enough for one batch of rows to fit in one array: BatchSize x input size ({inputDim}) is {(long)BatchSize * inputDim:N0}, at most {Array.MaxLength:N0} is possible");
        // The saved model's row graph holds the encoder and the decoder, and an ONNX file is one protobuf message, which
        // cannot exceed 2 GB: refused here, before hours of training, rather than when the model is saved.
        long weights = WeightCount(inputDim, HiddenDim, LatentDim);
        if (weights * sizeof(float) > MaxGraphWeightBytes)
            throw OutOfRange(nameof(HiddenDim), HiddenDim,
                $"small enough for the ONNX graph of the encoder and decoder to stay under protobuf's 2 GB limit: {inputDim}/{HiddenDim}/{LatentDim} " +
                $"has {weights:N0} weights ({weights * sizeof(float) / (double)(1L << 30):0.00} GiB as float32), at most {MaxGraphWeightBytes / sizeof(float):N0} fit. Lower HiddenDim (or LatentDim)");
    }

    /// <summary>
    /// Most input features supported. Blocks of rows shrink with the width (<see cref="Scoring.BlockScoring.BlockRowsFor"/>),
    /// but the width's own arrays (a row, a layer of HiddenDim × width weights) must stay far from .NET's array limit.
    /// </summary>
    internal const int MaxInputDim = 1 << 20;

    /// <summary>Bytes of float32 weights one ONNX graph may hold: protobuf's 2 GiB message limit, less room for the rest of the file.</summary>
    internal const long MaxGraphWeightBytes = 2_000_000_000;

    /// <summary>Weights and biases of the encoder and decoder for these sizes.</summary>
    internal static long WeightCount(long inputDim, long hiddenDim, long latentDim) =>
        (inputDim * hiddenDim + hiddenDim) + (hiddenDim * hiddenDim + hiddenDim) + (hiddenDim * 2 * latentDim + 2 * latentDim) // encoder
        + (latentDim * hiddenDim + hiddenDim) + (hiddenDim * hiddenDim + hiddenDim) + (hiddenDim * inputDim + inputDim); // decoder

    private void RequireLayerFits(long rows, long columns, string option, int value, string what)
    {
        if (rows * columns > Array.MaxLength)
            throw OutOfRange(option, value,
                $"small enough for one layer's weights to fit in one array: {what} is {rows * columns:N0}, at most {Array.MaxLength:N0} is possible");
    }

    private void RequirePositive(int value, string option)
    {
        if (value <= 0)
            throw OutOfRange(option, value, "a value > 0");
    }
}
