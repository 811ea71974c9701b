namespace MLNetVae;

/// <summary>
/// Options of <see cref="VaeAnomalyEstimator"/> (<c>mlContext.AnomalyDetection.Trainers.VariationalAutoencoder</c>):
/// the variational autoencoder's training settings, how rows are scored and where the anomaly threshold lies.
/// Every option has a default that gives a working detector; <see langword="null"/> sizes are chosen from the input.
/// </summary>
/// <remarks>
/// <para>The detector is unsupervised: it trains a <see cref="VaeTransformer"/> on every row it is given (labels are
/// not read, and the training rows may contain anomalies), scores rows by how badly the VAE reconstructs them and
/// flags a row when its score is above <see cref="VaeAnomalyTransformer.Threshold"/>.</para>
/// <para>The threshold is, in order of precedence, <see cref="Threshold"/> when set, else the (1 − <see cref="Contamination"/>)
/// quantile of the calibration rows' scores: the training rows', or with <see cref="CalibrationFraction"/> &gt; 0 those of
/// rows held out of training (recommended when the share flagged on new data matters: a model scores the rows it was
/// fitted on lower than new rows). After training it can be changed without retraining with
/// <see cref="VaeAnomalyTransformer.WithThreshold"/>, <see cref="VaeAnomalyTransformer.WithContamination"/> or
/// <see cref="VaeAnomalyTransformer.WithThresholdForFalsePositiveRate"/>.</para>
/// <para>Call <see cref="Validate"/> to check a set of options without training; the estimator does it too.</para>
/// </remarks>
public sealed class VaeAnomalyOptions : VaeTrainingOptions
{
    /// <summary>Default values of <see cref="VaeAnomalyOptions"/>, and the rules for the sizes chosen from the input.</summary>
    public static class Defaults
    {
        /// <summary>Name of the input column: a known-size vector of <see cref="float"/>.</summary>
        public const string FeatureColumnName = "Features";
        /// <summary>Name of the score column (Single, higher = more anomalous), the name ML.NET's anomaly evaluator reads.</summary>
        public const string ScoreColumnName = "Score";
        /// <summary>Name of the predicted label column (Boolean, true = anomaly), the name ML.NET's anomaly evaluator reads.</summary>
        public const string PredictedLabelColumnName = "PredictedLabel";
        /// <summary>Expected fraction of anomalies in the training rows; sets the threshold.</summary>
        public const double Contamination = 0.05;
        /// <summary>
        /// Share of the rows held out of training to set the threshold on: none, so every row trains the model (as
        /// ML.NET's trainers do) and the threshold comes from the training rows.
        /// </summary>
        public const double CalibrationFraction = 0;
        /// <summary>Fewest held-out rows a threshold is taken from when <see cref="VaeAnomalyOptions.CalibrationFraction"/> &gt; 0.</summary>
        public const int MinimumCalibrationRows = 20;
        /// <summary>
        /// The score: the negative ELBO, i.e. the model's own (Monte Carlo) estimate of how unlikely a row is. With
        /// β = 1 it beat the deterministic reconstruction error on most of the evaluation's data sets (docs/evaluation.md):
        /// its KL term also flags rows that lie far out along the directions the model does reconstruct.
        /// </summary>
        public const VaeAnomalyScoreKind ScoreKind = VaeAnomalyScoreKind.NegativeElbo;
        /// <summary>
        /// The per-feature term of the loss and the score: Gaussian (squared error), the design's. The Student-t kept the
        /// same mean ROC-AUC in the evaluation with fewer losses to IsolationForest (docs/evaluation.md, S47).
        /// </summary>
        public const VaeAnomalyLikelihood Likelihood = VaeAnomalyLikelihood.Gaussian;
        /// <summary>Draws per row for the sampling scores.</summary>
        public const int MonteCarloSamples = 10;
        /// <summary>
        /// Weight of the KL term (see <see cref="VaeTrainingOptions.Beta"/>): 1, the true evidence lower bound, rather than the
        /// featurizer's 0.01 — chosen with the evaluation (docs/evaluation.md); unused latent dimensions then collapse
        /// onto the prior, which sizes the bottleneck to the data.
        /// </summary>
        public const double Beta = 1.0;
        /// <summary>
        /// Share of each batch's rows with the largest loss that the training step leaves out (see
        /// <see cref="VaeTrainingOptions.TrimmedLossFraction"/>): a fifth. The detector trains on data that holds the
        /// anomalies it should flag (up to a third of the rows in the evaluation's sets); trimming the worst-fitted rows of
        /// every batch keeps the model on the bulk of the data. Chosen with the evaluation (docs/evaluation.md, runs T):
        /// mean ROC-AUC 0.835 → 0.851, better than 0.05 and 0.1 and than 0.3 and 0.4.
        /// </summary>
        public const double TrimmedLossFraction = 0.2;
        /// <summary>Rows per optimizer step.</summary>
        public const int BatchSize = 64;
        /// <summary>Adam learning rate.</summary>
        public const double LearningRate = VaeOptions.Defaults.LearningRate;
        /// <summary>Optimizer steps that the automatic epoch count (<see cref="VaeAnomalyOptions.Epochs"/> = null) aims for.</summary>
        public const int TargetOptimizerSteps = 2000;
        /// <summary>Fewest epochs the automatic epoch count picks.</summary>
        public const int MinimumEpochs = 20;
        /// <summary>Most epochs the automatic epoch count picks.</summary>
        public const int MaximumEpochs = 300;
        /// <summary>Fraction of the rows held out for validation loss (best-epoch selection and early stopping).</summary>
        public const double ValidationFraction = VaeOptions.Defaults.ValidationFraction;
        /// <summary>
        /// Epochs without validation improvement before training stops: 0, early stopping off. The automatic epoch count
        /// is already a budget (about <see cref="TargetOptimizerSteps"/> steps), and the best validation epoch is kept
        /// either way; on small data the validation rows are few (13 of glass's 128), so a patience of 20 epochs (40
        /// steps there) stopped on noise. Chosen with the evaluation (docs/evaluation.md, run T9): mean ROC-AUC 0.851 →
        /// 0.854, glass 0.735 → 0.766, wine 0.876 → 0.934; only small data sets (under ~1,000 training rows there) train longer.
        /// </summary>
        public const int EarlyStoppingPatience = 0;
        /// <summary>Epochs of KL warm-up (see <see cref="VaeTrainingOptions.KlWarmupEpochs"/>).</summary>
        public const int KlWarmupEpochs = 0;
        /// <summary>Whether the VAE standardizes its input (the statistics are part of the model).</summary>
        public const bool Standardize = VaeOptions.Defaults.Standardize;

        /// <summary>
        /// Near-constant features are measured in units of their excursions (see
        /// <see cref="VaeTrainingOptions.ScaleNearConstantFeaturesByExcursions"/>): on for the detector, whose negative
        /// ELBO weighs each feature's error by 1 / scale², so that the rare specks of an image's border pixels do not drown
        /// every other signal (docs/evaluation.md).
        /// </summary>
        public const bool ScaleNearConstantFeaturesByExcursions = true;

        /// <summary>
        /// The hidden width chosen for <paramref name="inputDim"/> features when <see cref="VaeAnomalyOptions.HiddenDim"/>
        /// is null: twice the input, between 32 and 512 (so 512, VaeOptions' default, from 256 features on).
        /// </summary>
        public static int HiddenDimFor(int inputDim)
        {
            ArgumentOutOfRangeException.ThrowIfNegativeOrZero(inputDim);
            return Math.Clamp(2 * inputDim, 32, VaeOptions.Defaults.HiddenDim);
        }

        /// <summary>
        /// The latent size chosen for <paramref name="inputDim"/> features when <see cref="VaeAnomalyOptions.LatentDim"/>
        /// is null: a third of the input (rounded up), between 2 and 256 (so 256, VaeOptions' default, from 768 features on).
        /// A bottleneck narrower than the input is what makes unusual rows hard to reconstruct.
        /// </summary>
        public static int LatentDimFor(int inputDim)
        {
            ArgumentOutOfRangeException.ThrowIfNegativeOrZero(inputDim);
            return Math.Clamp((inputDim + 2) / 3, 2, VaeOptions.Defaults.LatentDim);
        }

        /// <summary>
        /// Most hidden units per training row in the sizes chosen from the data (<see cref="HiddenDimFor(int, long)"/>):
        /// a half. The design's 512/256 network holds 1.7 million weights; fitted to the 175 rows of an image-embedding set
        /// it learns those rows rather than what they have in common. Measured on the four embedding sets (768–1000
        /// features, 175–369 training rows): mean ROC-AUC +0.01 to +0.03 and 2x faster training (docs/evaluation.md);
        /// every other set has more than twice as many training rows as hidden units and is unchanged.
        /// </summary>
        public const double HiddenUnitsPerTrainingRow = 0.5;

        /// <summary>
        /// The hidden width chosen for <paramref name="inputDim"/> features and <paramref name="trainingRows"/> rows when
        /// <see cref="VaeAnomalyOptions.HiddenDim"/> is null: <see cref="HiddenDimFor(int)"/>, and at most
        /// <see cref="HiddenUnitsPerTrainingRow"/> per row (rounded up), never below 32.
        /// </summary>
        public static int HiddenDimFor(int inputDim, long trainingRows)
        {
            ArgumentOutOfRangeException.ThrowIfNegative(trainingRows); // 0 rows: Fit refuses the data itself, with its own message
            long byRows = (long)Math.Ceiling(HiddenUnitsPerTrainingRow * trainingRows);
            return (int)Math.Max(32, Math.Min(HiddenDimFor(inputDim), byRows));
        }

        /// <summary>
        /// The latent size chosen for <paramref name="inputDim"/> features and <paramref name="trainingRows"/> rows when
        /// <see cref="VaeAnomalyOptions.LatentDim"/> is null: <see cref="LatentDimFor(int)"/>, and at most half of
        /// <see cref="HiddenDimFor(int, long)"/>, never below 2.
        /// </summary>
        public static int LatentDimFor(int inputDim, long trainingRows) =>
            Math.Max(2, Math.Min(LatentDimFor(inputDim), HiddenDimFor(inputDim, trainingRows) / 2));

        /// <summary>
        /// The epoch count chosen when <see cref="VaeAnomalyOptions.Epochs"/> is null: enough epochs for about
        /// <see cref="TargetOptimizerSteps"/> optimizer steps over <paramref name="trainingRows"/> rows, between
        /// <see cref="MinimumEpochs"/> and <see cref="MaximumEpochs"/>. Small data sets get more passes.
        /// </summary>
        public static int EpochsFor(long trainingRows, int batchSize)
        {
            ArgumentOutOfRangeException.ThrowIfNegativeOrZero(batchSize);
            long stepsPerEpoch = Math.Max(1, (trainingRows + batchSize - 1) / batchSize);
            long epochs = (TargetOptimizerSteps + stepsPerEpoch - 1) / stepsPerEpoch;
            return (int)Math.Clamp(epochs, MinimumEpochs, MaximumEpochs);
        }
    }

    /// <summary>Options with the detector's defaults (see <see cref="Defaults"/>; the other training settings default as in <see cref="VaeOptions.Defaults"/>).</summary>
    public VaeAnomalyOptions()
    {
        BatchSize = Defaults.BatchSize;
        Beta = Defaults.Beta;
        TrimmedLossFraction = Defaults.TrimmedLossFraction;
        EarlyStoppingPatience = Defaults.EarlyStoppingPatience;
        ScaleNearConstantFeaturesByExcursions = Defaults.ScaleNearConstantFeaturesByExcursions;
    }

    /// <summary>Input column: a known-size vector of <see cref="float"/> (dense or sparse), free of NaN and ∞ for training.</summary>
    public string FeatureColumnName { get; set; } = Defaults.FeatureColumnName;

    /// <summary>Width of the hidden layers; <see langword="null"/> chooses <see cref="Defaults.HiddenDimFor(int, long)"/> of the input size and the training rows.</summary>
    public int? HiddenDim { get; set; }

    /// <summary>Size of the latent space; <see langword="null"/> chooses <see cref="Defaults.LatentDimFor(int, long)"/> of the input size and the training rows.</summary>
    public int? LatentDim { get; set; }

    /// <summary>Maximum number of epochs; <see langword="null"/> chooses <see cref="Defaults.EpochsFor"/> of the row count.</summary>
    public int? Epochs { get; set; }

    /// <summary>How a row is scored; see <see cref="VaeAnomalyScoreKind"/>. Default <see cref="VaeAnomalyScoreKind.NegativeElbo"/>.</summary>
    public VaeAnomalyScoreKind ScoreKind { get; set; } = Defaults.ScoreKind;

    /// <summary>
    /// The per-feature term of the training loss, the validation loss and the <see cref="VaeAnomalyScoreKind.NegativeElbo"/>
    /// score; see <see cref="VaeAnomalyLikelihood"/>. Default <see cref="VaeAnomalyLikelihood.Gaussian"/>. The
    /// reconstruction-error scores stay mean squared errors (of a model trained with this likelihood); the training
    /// report's losses are in the likelihood's units.
    /// </summary>
    public VaeAnomalyLikelihood Likelihood { get; set; } = Defaults.Likelihood;

    /// <summary>Draws of z per row for <see cref="VaeAnomalyScoreKind.MonteCarloReconstructionError"/> and <see cref="VaeAnomalyScoreKind.NegativeElbo"/>; 1 to 1,000.</summary>
    public int MonteCarloSamples { get; set; } = Defaults.MonteCarloSamples;

    /// <summary>
    /// Expected fraction of anomalies among the training rows, in (0, 0.5]: the threshold is the (1 − contamination)
    /// quantile of the training rows' scores, so about this fraction of them is flagged. Ignored when
    /// <see cref="Threshold"/> is set.
    /// </summary>
    public double Contamination { get; set; } = Defaults.Contamination;

    /// <summary>
    /// Share of the rows, in [0, 1), held out of training (chosen at random, seeded by <see cref="VaeTrainingOptions.Seed"/>) so that the
    /// <see cref="Contamination"/> threshold is a quantile of scores of rows the model has not seen, like new data.
    /// 0 (the default) trains on every row and takes the quantile of the training rows' scores, which are lower than new
    /// rows' when the model overfits, so more than <see cref="Contamination"/> of new data is then flagged. At least
    /// <see cref="Defaults.MinimumCalibrationRows"/> rows must be held out.
    /// </summary>
    public double CalibrationFraction { get; set; } = Defaults.CalibrationFraction;

    /// <summary>An explicit threshold on the score (a row is an anomaly when its score is above it); overrides <see cref="Contamination"/>. Must be finite.</summary>
    public float? Threshold { get; set; }

    /// <summary>Output column of the score (Single; higher = more anomalous).</summary>
    public string ScoreColumnName { get; set; } = Defaults.ScoreColumnName;

    /// <summary>Output column of the decision (Boolean; true when the score is above the threshold, false for a NaN score).</summary>
    public string PredictedLabelColumnName { get; set; } = Defaults.PredictedLabelColumnName;

    /// <summary>
    /// Optional output column (vector of Single, one value per input feature) holding each feature's squared error
    /// (x − decoder(mu))² in the original scale, to see which features made a row anomalous. Their mean is the row's
    /// reconstruction error. <see langword="null"/> (the default) adds no such column.
    /// </summary>
    public string? PerFeatureErrorColumnName { get; set; }

    /// <summary>A shallow copy.</summary>
    internal VaeAnomalyOptions Clone() => (VaeAnomalyOptions)MemberwiseClone();

    /// <summary>
    /// Checks every option and throws <see cref="ArgumentOutOfRangeException"/> or <see cref="ArgumentException"/>
    /// naming the first invalid one, its value and the allowed range. Called by the estimator before any work starts.
    /// </summary>
    public void Validate()
    {
        RequireName(FeatureColumnName, nameof(FeatureColumnName));
        if (HiddenDim is { } hidden && hidden <= 0)
            throw OutOfRange(nameof(HiddenDim), hidden, "null (chosen from the input size) or a value > 0");
        if (LatentDim is { } latent && latent <= 0)
            throw OutOfRange(nameof(LatentDim), latent, "null (chosen from the input size) or a value > 0");
        if (Epochs is { } epochs && epochs <= 0)
            throw OutOfRange(nameof(Epochs), epochs, "null (chosen from the row count) or a value > 0");
        ValidateTrainingSettings();
        if (!Enum.IsDefined(ScoreKind))
            throw OutOfRange(nameof(ScoreKind), ScoreKind, $"one of {string.Join(", ", Enum.GetNames<VaeAnomalyScoreKind>())}");
        if (!Enum.IsDefined(Likelihood))
            throw OutOfRange(nameof(Likelihood), Likelihood, $"one of {string.Join(", ", Enum.GetNames<VaeAnomalyLikelihood>())}");
        if (MonteCarloSamples is < 1 or > 1000)
            throw OutOfRange(nameof(MonteCarloSamples), MonteCarloSamples, "a value in [1, 1000]");
        RequireContamination(Contamination, nameof(Contamination));
        if (!(CalibrationFraction >= 0 && CalibrationFraction < 1))
            throw OutOfRange(nameof(CalibrationFraction), CalibrationFraction, "a value in [0, 1) (0 sets the threshold on the training rows)");
        if (Threshold is { } threshold && !float.IsFinite(threshold))
            throw OutOfRange(nameof(Threshold), threshold, "null (use Contamination) or a finite value");

        var outputs = new List<(string?, string)> { (ScoreColumnName, nameof(ScoreColumnName)), (PredictedLabelColumnName, nameof(PredictedLabelColumnName)) };
        if (PerFeatureErrorColumnName is not null) // optional: null adds no column
            outputs.Add((PerFeatureErrorColumnName, nameof(PerFeatureErrorColumnName)));
        RequireDistinctOutputs(FeatureColumnName, "feature column", outputs);
    }

    /// <summary>The <see cref="VaeOptions"/> the VAE is trained with, sizes and epochs resolved for the data.</summary>
    internal VaeOptions ToVaeOptions(int inputDim, long rows)
    {
        long trainingRows = rows - (long)Math.Floor(rows * ValidationFraction);
        var vae = new VaeOptions
        {
            InputColumnName = FeatureColumnName,
            HiddenDim = HiddenDim ?? Defaults.HiddenDimFor(inputDim, rows),
            LatentDim = LatentDim ?? Defaults.LatentDimFor(inputDim, rows),
            Epochs = Epochs ?? Defaults.EpochsFor(trainingRows, BatchSize),
        };
        // The detector adds only its score columns, so the inner VAE's output names need only differ from the features'
        // (a featurizer's "Mu" column is a natural input): the one that would clash is renamed.
        string Apart(string output) => output == FeatureColumnName ? "Vae" + output : output;
        vae.MuColumnName = Apart(vae.MuColumnName);
        vae.LogVarColumnName = Apart(vae.LogVarColumnName);
        vae.ReconstructionColumnName = Apart(vae.ReconstructionColumnName);
        vae.ReconstructionErrorColumnName = Apart(vae.ReconstructionErrorColumnName);
        CopyTrainingSettingsTo(vae);
        vae.Likelihood = Likelihood;
        return vae;
    }

    /// <summary>The largest <see cref="Contamination"/> accepted: above it "anomalies" would be the majority.</summary>
    internal const double MaxContamination = 0.5;

    internal static void RequireContamination(double contamination, string parameter)
    {
        if (!(contamination > 0 && contamination <= MaxContamination))
            throw new ArgumentOutOfRangeException(parameter, contamination,
                $"{parameter} is {contamination}; it must be in (0, 0.5]: the expected fraction of anomalies among the training rows.");
    }
}
