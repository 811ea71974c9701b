using System.CommandLine;
using System.Diagnostics;
using System.Globalization;
using Microsoft.ML;
using Microsoft.ML.Data;
using MLNetVae.Cli.Data;
using MLNetVae.Cli.Evaluation;
using MLNetVae.Cli.Infrastructure;
using MLNetVae.Cli.Modeling;
using MLNetVae.Cli.Output;
using Spectre.Console;

namespace MLNetVae.Cli.Commands;

/// <summary>
/// <c>mlnetvae train</c>: fits the library's anomaly detector, <c>VaeAnomalyEstimator</c> (unsupervised: a label column is
/// never used for training), on a data file's feature columns, and writes the model (an ML.NET model zip: the feature
/// columns concatenated, then the detector, see <see cref="AnomalyPipeline"/>), the VAE's encoder/decoder ONNX files, a
/// JSON report and the loss plot. Every training flag is one <see cref="VaeAnomalyOptions"/> setting with its default
/// from <see cref="VaeAnomalyOptions.Defaults"/>, except three the CLI chooses for its users: --calibration-fraction 0.2
/// (a threshold from rows the model has not seen), --threads 1 (small networks on a shared machine) and --seed 1 (a run
/// repeats). Ctrl+C stops
/// training at the next batch and still writes everything for the best epoch completed so far (exit code 130).
/// </summary>
internal static class TrainCommand
{
    public const string ModelFile = "model.zip";
    public const string EncoderFile = "encoder.onnx";
    public const string DecoderFile = "decoder.onnx";
    public const string ReportFile = "report.json";
    public const string LossPlotFile = "loss.png";
    public static readonly IReadOnlyList<string> OutputFiles = [ModelFile, EncoderFile, DecoderFile, ReportFile, LossPlotFile];

    /// <summary>The CLI's own defaults, where it departs from <see cref="VaeAnomalyOptions.Defaults"/> (see the class summary).</summary>
    public const double DefaultCalibrationFraction = 0.2;
    public const int DefaultThreads = 1;

    /// <summary>Options of one training run.</summary>
    internal sealed record Settings(
        string DataPath, string OutputPath, bool Overwrite,
        int? HiddenDim, int? LatentDim, int? Epochs, int BatchSize, double LearningRate, double Beta,
        double ValidationFraction, int Patience, bool Standardize, int Seed, int Threads,
        VaeAnomalyScoreKind ScoreKind, int Samples,
        double Contamination, double CalibrationFraction, string LabelColumn, bool LabelColumnGiven, IReadOnlyList<string>? InputColumns,
        long? MaxInMemoryMiB = null, VaeScoringPrecision ScoringPrecision = VaeScoringPrecision.Float32,
        VaeAnomalyLikelihood Likelihood = VaeAnomalyOptions.Defaults.Likelihood);

    /// <summary>The detector's options: one flag, one setting.</summary>
    internal static VaeAnomalyOptions DetectorOptionsFor(Settings settings) => new()
    {
        FeatureColumnName = AnomalyPipeline.FeaturesColumn,
        HiddenDim = settings.HiddenDim,
        LatentDim = settings.LatentDim,
        Epochs = settings.Epochs,
        BatchSize = settings.BatchSize,
        LearningRate = settings.LearningRate,
        Beta = settings.Beta,
        ValidationFraction = settings.ValidationFraction,
        EarlyStoppingPatience = settings.Patience,
        Standardize = settings.Standardize,
        Seed = settings.Seed,
        NumberOfThreads = settings.Threads,
        ScoreKind = settings.ScoreKind,
        Likelihood = settings.Likelihood,
        MonteCarloSamples = settings.Samples,
        Contamination = settings.Contamination,
        CalibrationFraction = settings.CalibrationFraction,
        MaxInMemoryTrainingBytes = settings.MaxInMemoryMiB * (1L << 20),
        ScoringPrecision = settings.ScoringPrecision,
    };

    public static Command Create(CliContext context)
    {
        var data = CommonOptions.Data("Training data. Every column except the label is a feature unless --input-column names them.");
        var output = CommonOptions.OutputFolder("Folder for model.zip, encoder.onnx, decoder.onnx, report.json and loss.png (created if needed).");
        var overwrite = CommonOptions.Overwrite();
        var hidden = new Option<int?>("--hidden") { Description = "Width of the hidden layers; default: twice the features, 32 to 512, and at most half the training rows (at least 32)." }.Positive();
        var latent = new Option<int?>("--latent") { Description = "Size of the latent space; default: a third of the features, 2 to 256, and at most half the hidden width." }.Positive();
        var epochs = new Option<int?>("--epochs") { Description = $"Maximum number of epochs; default: about {VaeAnomalyOptions.Defaults.TargetOptimizerSteps:N0} optimizer steps ({VaeAnomalyOptions.Defaults.MinimumEpochs} to {VaeAnomalyOptions.Defaults.MaximumEpochs})." }.Positive();
        var batchSize = new Option<int>("--batch-size") { Description = "Rows per optimizer step.", DefaultValueFactory = _ => VaeAnomalyOptions.Defaults.BatchSize }.Positive();
        var learningRate = new Option<double>("--lr", "--learning-rate") { Description = "Adam learning rate.", DefaultValueFactory = _ => VaeAnomalyOptions.Defaults.LearningRate }
            .InRange(0, false, float.MaxValue, true);
        var beta = new Option<double>("--beta") { Description = "Weight of the KL term in the loss and in the negative-ELBO score.", DefaultValueFactory = _ => VaeAnomalyOptions.Defaults.Beta }
            .InRange(0, true, float.MaxValue, true);
        var validation = new Option<double>("--validation-fraction")
        {
            Description = "Share of the training rows held out to pick the best epoch (and for early stopping); 0 keeps the last epoch.",
            DefaultValueFactory = _ => VaeAnomalyOptions.Defaults.ValidationFraction,
        }.InRange(0, true, 1, false);
        var patience = new Option<int>("--patience")
        {
            Description = "Stop after this many epochs without a better validation loss; 0 trains every epoch.",
            DefaultValueFactory = _ => VaeAnomalyOptions.Defaults.EarlyStoppingPatience,
        };
        patience.Validators.Add(r => { if (r.Tokens.Count > 0 && int.TryParse(r.Tokens[^1].Value, out int p) && p < 0) r.AddError($"--patience must be 0 or more; got {p}."); });
        var noStandardize = new Option<bool>("--no-standardize") { Description = "Do not standardize the features (per-feature mean and standard deviation, part of the model)." };
        var seed = CommonOptions.Seed("Seed of the weights, the shuffling, the splits and the score's draws: the same seed and threads give the same model.");
        var threads = new Option<int>("--threads")
        {
            Description = "TorchSharp threads for training. One is fastest for small networks and on busy machines.",
            DefaultValueFactory = _ => DefaultThreads,
        }.Positive();
        var score = new Option<VaeAnomalyScoreKind>("--score")
        {
            Description = "The anomaly score: NegativeElbo (the training loss of the row), MonteCarloReconstructionError or ReconstructionError.",
            DefaultValueFactory = _ => VaeAnomalyOptions.Defaults.ScoreKind,
        };
        var likelihood = new Option<VaeAnomalyLikelihood>("--likelihood")
        {
            Description = "Per-feature term of the loss and the negative-ELBO score: Gaussian (squared error) or StudentT (ν = 2: " +
                          "logarithmic beyond a few standard deviations, for anomalies that stand out on a few features).",
            DefaultValueFactory = _ => VaeAnomalyOptions.Defaults.Likelihood,
        };
        var samples = new Option<int>("--samples")
        {
            Description = "Draws of the latent code per row for the sampling scores (1 to 1000).",
            DefaultValueFactory = _ => VaeAnomalyOptions.Defaults.MonteCarloSamples,
        }.InRange(1, 1000);
        var contamination = new Option<double>("--contamination")
        {
            Description = "Expected share of anomalies: the threshold is set so that this share of the calibration rows is flagged.",
            DefaultValueFactory = _ => VaeAnomalyOptions.Defaults.Contamination,
        }.InRange(0, false, 0.5, true);
        var calibration = new Option<double>("--calibration-fraction")
        {
            Description = "Share of the rows held out from training to set the threshold on: rows the model has not seen, like new data. " +
                          "0 sets it on the training rows, which the model fits better, so it then flags more than --contamination of new data.",
            DefaultValueFactory = _ => DefaultCalibrationFraction,
        }.InRange(0, true, 1, false);
        var labelColumn = CommonOptions.LabelColumn(
            "Label column (0 = normal, 1 = anomaly). Never used for training; if present it is left out of the features and used to report ROC-AUC on the held-out rows. Without such a column every column is a feature.");
        var maxInMemory = new Option<long?>("--max-in-memory-mib")
        {
            Description = "Largest feature data, in MiB of float32, that training copies into memory; a larger file is read again every epoch " +
                          "through a shuffle buffer of this size (flat memory). Default: a quarter of the memory available to the process.",
            HelpName = "MiB",
        };
        maxInMemory.Validators.Add(r =>
        {
            // In bytes it must fit a long (8 EiB): larger values would wrap around to a negative budget.
            if (r.Tokens.Count > 0 && long.TryParse(r.Tokens[^1].Value, out long m) && (m <= 0 || m > long.MaxValue >> 20))
                r.AddError($"--max-in-memory-mib must be in [1, {long.MaxValue >> 20}]; got {m}.");
        });
        var precision = new Option<VaeScoringPrecision>("--precision")
        {
            Description = "Arithmetic the model scores with, saved with it: Float32, or Int8 (about twice the rows/s for large networks on CPUs with 8-bit dot products; the threshold is set on int8 scores).",
            DefaultValueFactory = _ => VaeScoringPrecision.Float32,
        };
        var inputColumns = new Option<string[]>("--input-column")
        {
            Description = "Feature columns by name (comma-separated or repeated); default: every column except the label. For .idv files: the vector column(s) to use.",
            HelpName = "names",
            AllowMultipleArgumentsPerToken = false,
        };

        var command = new Command("train",
            "Train the VAE anomaly detector on a data file (unsupervised), set its threshold on rows held out from training, and write the model, ONNX encoder/decoder, a report and the loss plot.")
        {
            data, output, overwrite, hidden, latent, epochs, batchSize, learningRate, beta, validation, patience, noStandardize,
            seed, threads, score, likelihood, samples, contamination, calibration, labelColumn, inputColumns, maxInMemory, precision,
        };
        command.SetAction(parseResult => CommandExecution.Run(context, parseResult.GetValue(CliApp.Verbose), cancellationToken =>
            Execute(context, new Settings(
                parseResult.GetValue(data)!, parseResult.GetValue(output)!, parseResult.GetValue(overwrite),
                parseResult.GetValue(hidden), parseResult.GetValue(latent), parseResult.GetValue(epochs), parseResult.GetValue(batchSize),
                parseResult.GetValue(learningRate), parseResult.GetValue(beta), parseResult.GetValue(validation), parseResult.GetValue(patience),
                !parseResult.GetValue(noStandardize), parseResult.GetValue(seed), parseResult.GetValue(threads),
                parseResult.GetValue(score), parseResult.GetValue(samples),
                parseResult.GetValue(contamination), parseResult.GetValue(calibration), parseResult.GetValue(labelColumn)!, parseResult.WasGiven(labelColumn),
                CommonOptions.Names(parseResult.GetValue(inputColumns)), parseResult.GetValue(maxInMemory), parseResult.GetValue(precision),
                parseResult.GetValue(likelihood)), cancellationToken)));
        return command;
    }

    internal static int Execute(CliContext context, Settings settings, CancellationToken cancellationToken)
    {
        var console = context.Out;
        var total = Stopwatch.StartNew();

        var options = DetectorOptionsFor(settings);
        options.Validate();
        string dataPath = InputPaths.ResolveExistingFile(settings.DataPath, "data file");
        var output = OutputFolder.Prepare(settings.OutputPath, settings.Overwrite, OutputFiles);

        var ml = new MLContext(seed: settings.Seed);
        var data = DataFile.Load(ml, dataPath,
            new ColumnSelection(settings.LabelColumn, settings.LabelColumnGiven, settings.InputColumns), cancellationToken);
        console.MarkupLineInterpolated(
            $"[bold]Data[/] {dataPath}: {data.RowCount} rows × {data.FeatureCount} features{LabelNote(data)}");
        // Sizes chosen from the data depend on the rows that train; a calibration hold-out is drawn row by row, so before
        // Fit this is its expected size (the "Trained" line reports the network Fit built).
        long expectedTrainingRows = Math.Max(1, data.RowCount - (long)Math.Round(data.RowCount * options.CalibrationFraction));
        int hiddenDim = options.HiddenDim ?? VaeAnomalyOptions.Defaults.HiddenDimFor(data.FeatureCount, expectedTrainingRows);
        int latentDim = options.LatentDim ?? VaeAnomalyOptions.Defaults.LatentDimFor(data.FeatureCount, expectedTrainingRows);
        console.MarkupLineInterpolated(
            $"[bold]Detector[/] VAE {data.FeatureCount} → {hiddenDim} → {hiddenDim} → {latentDim}{(options.HiddenDim is null || options.LatentDim is null ? SizesNote(options.CalibrationFraction, expectedTrainingRows) : "")}, score {options.ScoreKind}{(options.ScoreKind == VaeAnomalyScoreKind.ReconstructionError ? "" : $" ({options.MonteCarloSamples} draws)")}{(options.Likelihood == VaeAnomalyLikelihood.Gaussian ? "" : $", {options.Likelihood} likelihood")}, batch {options.BatchSize}, lr {Invariant(options.LearningRate)}, β {Invariant(options.Beta)}, {Format.Percent(options.ValidationFraction)} held out for validation, {(options.Standardize ? "standardized" : "not standardized")}, seed {settings.Seed}, {settings.Threads} thread{(settings.Threads == 1 ? "" : "s")}{(options.ScoringPrecision == VaeScoringPrecision.Int8 ? ", int8 scoring" : "")}");
        if (options.CalibrationFraction > 0)
            console.MarkupLineInterpolated(
                $"[bold]Split[/] about {Format.Percent(options.CalibrationFraction)} of the rows held out from training to set the threshold on (--calibration-fraction {Invariant(options.CalibrationFraction)})");

        // Stage 1: the named feature columns → one vector. Stage 2: the library's detector (Ctrl+C keeps the best epoch so far).
        var features = AnomalyPipeline.FitFeatures(ml, data);
        var featurized = features.Transform(data.Data);
        options.CancellationToken = cancellationToken;
        VaeAnomalyTransformer detector;
        bool cancelled = false;
        try
        {
            detector = TrainingProgressView.Run(console, options.Epochs ?? VaeAnomalyOptions.Defaults.MaximumEpochs, progress =>
            {
                options.Progress = progress;
                return ml.AnomalyDetection.Trainers.VariationalAutoencoder(options).Fit(featurized);
            });
        }
        catch (VaeTrainingCancelledException stopped) when (stopped.BestDetectorSoFar is not null)
        {
            detector = stopped.BestDetectorSoFar;
            cancelled = true;
        }
        using var _ = detector;
        var vae = detector.Vae;
        var training = vae.TrainingReport!;
        double trainSeconds = training.Epochs.Count > 0 ? training.Epochs[^1].Elapsed.TotalSeconds : 0;
        if (cancelled)
            context.Error.MarkupLineInterpolated(
                $"[yellow]Stopped by Ctrl+C[/] after {training.Epochs.Count} complete epoch{(training.Epochs.Count == 1 ? "" : "s")}; writing the best model so far (epoch {training.BestEpoch}).");
        else
            console.MarkupLineInterpolated(
                $"Trained {training.Epochs.Count} epochs in {trainSeconds:0.0} s on {training.Device} ({training.Threads} thread{(training.Threads == 1 ? "" : "s")}), VAE {vae.InputDim} → {vae.HiddenDim} → {vae.HiddenDim} → {vae.LatentDim}; {training.StopReason}; kept the weights of epoch {training.BestEpoch}.");

        // From here on the run finishes whatever Ctrl+C does (CancellationToken.None below): a stopped run's files are what
        // Ctrl+C asked to keep, and a Ctrl+C after the last epoch (during the label pass, the export or the writing) must
        // not throw a trained model away.

        // The threshold the detector set: the (1 − contamination) quantile of its calibration rows' scores.
        bool holdsOut = options.CalibrationFraction > 0;
        float threshold = detector.Threshold;
        var calibrationScores = detector.CalibrationScores;
        var trainingScores = detector.TrainingScores;
        int flaggedCalibration = calibrationScores.Count(e => e > threshold);
        int flaggedTraining = trainingScores.Count(e => e > threshold);
        if (holdsOut)
            console.MarkupLineInterpolated($"[bold]Threshold[/] {Invariant(threshold)}: the {Format.Percent(1 - settings.Contamination)} quantile of the held-out rows' scores (--contamination {Invariant(settings.Contamination)}); above it: {flaggedCalibration} of {calibrationScores.Count} held-out rows, {flaggedTraining} of {trainingScores.Count} training rows.");
        else
            console.MarkupLineInterpolated($"[bold]Threshold[/] {Invariant(threshold)}: the {Format.Percent(1 - settings.Contamination)} quantile of the training rows' scores (--contamination {Invariant(settings.Contamination)}, --calibration-fraction 0); {flaggedTraining} of {trainingScores.Count} training rows are above it. New rows score higher than training rows, so expect more than {Format.Percent(settings.Contamination)} of new data to be flagged.");

        // With labels: how the threshold does on the calibration rows (held out, so an honest estimate when there are any).
        ThresholdResult? labelled = null;
        string labelledRows = holdsOut ? "held-out" : "training";
        if (data.LabelColumn is { } labelName)
        {
            var calibrationRows = detector.CalibrationRows(featurized);
            var labels = DataFile.ReadLabels(calibrationRows, calibrationRows.Schema[labelName], data.Path, CancellationToken.None);
            if (labels.Contains(1f) && labels.Contains(0f))
            {
                var scored = detector.Transform(calibrationRows);
                float[] scores = DataViewColumns.ReadSingles(scored, options.ScoreColumnName, CancellationToken.None);
                labelled = AnomalyEvaluation.EvaluateAtThreshold(ml, labels, scores, scores.Select(e => e > threshold).ToArray(), threshold);
                console.MarkupLineInterpolated(
                    $"[bold]Labels[/] (not used for training): ROC-AUC {labelled.RocAuc:0.000} on the {labels.Length} {labelledRows} rows; at the threshold precision {labelled.Precision:0.000}, recall {labelled.Recall:0.000}.{(holdsOut ? "" : " Use 'evaluate' on held-out data for an honest estimate.")}");
            }
        }
        var model = new TransformerChain<ITransformer>(features, detector);
        var report = TrainReport.Create(dataPath, data, settings, detector, cancelled,
            new TrainReport.ThresholdInfo(threshold, settings.Contamination, settings.CalibrationFraction,
                holdsOut
                    ? $"nearest-rank {1 - settings.Contamination:0.###} quantile of the {options.ScoreKind} scores of the {calibrationScores.Count} rows held out from training"
                    : $"nearest-rank {1 - settings.Contamination:0.###} quantile of the {options.ScoreKind} scores of all {trainingScores.Count} training rows",
                flaggedCalibration, holdsOut ? calibrationScores.Count : 0, flaggedTraining, trainingScores.Count),
            labelled is null ? null : new TrainReport.LabelledInfo(labelledRows + " rows", labelled), output, total.Elapsed.TotalSeconds);
        // All five files or none: each is written beside its target, then all are moved into place together.
        var inputSchema = AnomalyPipeline.InputSchema(data);
        var onnx = OnnxPair.Of(vae);
        output.WriteAll(
        [
            (ModelFile, path => ml.Model.SaveSafely(model, inputSchema, path, overwrite: true)),
            .. onnx.Files(EncoderFile, DecoderFile),
            (LossPlotFile, path => Plots.Loss(path, training, $"VAE training on {Path.GetFileName(dataPath)}")),
            (ReportFile, path => Output.ReportFile.Write(path, report)),
        ], CancellationToken.None);

        console.WriteLine();
        console.MarkupLine("[bold]Wrote[/]");
        foreach (var file in OutputFiles)
            console.MarkupLineInterpolated($"  {output.File(file)}");
        console.MarkupLineInterpolated($"[grey]Total time {total.Elapsed.TotalSeconds:0.0} s. Next: mlnetvae score --model {output.File(ModelFile)} --data <file> -o scores.csv[/]");
        if (!cancelled && cancellationToken.IsCancellationRequested)
            context.Error.MarkupLine("[yellow]Ctrl+C[/] came after training had finished; the trained model was written in full.");
        return cancelled || cancellationToken.IsCancellationRequested ? ExitCodes.Cancelled : ExitCodes.Success;
    }

    private static string LabelNote(TabularData data) => data.LabelColumn is null
        ? " (no label column: every column is a feature)"
        : $", label column '{data.LabelColumn}' with {data.AnomalyCount} anomalies (not used for training)";

    private static string Invariant(double value) => value.ToString("G4", CultureInfo.InvariantCulture);

    /// <summary>
    /// Where chosen sizes come from. With a calibration hold-out its size is a seeded draw per row, so before Fit the
    /// training rows (and a size chosen from them) are known only about; the "Trained" line gives the network Fit built.
    /// </summary>
    private static string SizesNote(double calibrationFraction, long expectedTrainingRows) => calibrationFraction > 0
        ? $" (sizes chosen from the input and about {expectedTrainingRows} training rows)"
        : $" (sizes chosen from the input and the {expectedTrainingRows} training rows)";
}
