using System.CommandLine;
using System.Diagnostics;
using System.Globalization;
using Microsoft.ML;
using MLNetVae.Cli.Data;
using MLNetVae.Cli.Evaluation;
using MLNetVae.Cli.Infrastructure;
using MLNetVae.Cli.Modeling;
using MLNetVae.Cli.Output;
using Spectre.Console;

namespace MLNetVae.Cli.Commands;

/// <summary>
/// <c>mlnetvae train</c>: trains a VAE on a data file (unsupervised: a label column is never used for training), sets the
/// anomaly threshold at a quantile of the reconstruction errors of rows held out from training (see
/// <see cref="CalibrationSplit"/>), and writes the model (an ML.NET model
/// zip, see <see cref="AnomalyPipeline"/>), the encoder/decoder ONNX files, a JSON report and the loss plot. Ctrl+C
/// stops training at the next batch and still writes everything for the best epoch completed so far (exit code 130).
/// </summary>
internal static class TrainCommand
{
    public const string ModelFile = "model.zip";
    public const string EncoderFile = "encoder.onnx";
    public const string DecoderFile = "decoder.onnx";
    public const string ReportFile = "report.json";
    public const string LossPlotFile = "loss.png";
    public static readonly IReadOnlyList<string> OutputFiles = [ModelFile, EncoderFile, DecoderFile, ReportFile, LossPlotFile];

    /// <summary>Options of one training run.</summary>
    internal sealed record Settings(
        string DataPath, string OutputPath, bool Overwrite,
        int HiddenDim, int LatentDim, int Epochs, int BatchSize, double LearningRate, double Beta,
        double ValidationFraction, int Patience, bool Standardize, int Seed, int Threads,
        double Contamination, double CalibrationFraction, string LabelColumn, bool LabelColumnGiven, IReadOnlyList<string>? InputColumns);

    internal static VaeOptions VaeOptionsFor(Settings settings) => new()
    {
        InputColumnName = AnomalyPipeline.FeaturesColumn,
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
    };

    public static Command Create(CliContext context)
    {
        var data = CommonOptions.Data("Training data. Every column except the label is a feature unless --input-column names them.");
        var output = CommonOptions.OutputFolder("Folder for model.zip, encoder.onnx, decoder.onnx, report.json and loss.png (created if needed).");
        var overwrite = CommonOptions.Overwrite();
        var hidden = new Option<int>("--hidden") { Description = "Width of the hidden layers.", DefaultValueFactory = _ => VaeOptions.Defaults.HiddenDim }.Positive();
        var latent = new Option<int>("--latent") { Description = "Size of the latent space (the Mu columns).", DefaultValueFactory = _ => VaeOptions.Defaults.LatentDim }.Positive();
        var epochs = new Option<int>("--epochs") { Description = "Maximum number of epochs.", DefaultValueFactory = _ => VaeOptions.Defaults.Epochs }.Positive();
        var batchSize = new Option<int>("--batch-size") { Description = "Rows per optimizer step.", DefaultValueFactory = _ => VaeOptions.Defaults.BatchSize }.Positive();
        var learningRate = new Option<double>("--lr", "--learning-rate") { Description = "Adam learning rate.", DefaultValueFactory = _ => VaeOptions.Defaults.LearningRate }
            .InRange(0, false, double.MaxValue, true);
        var beta = new Option<double>("--beta") { Description = "Weight of the KL term in the loss.", DefaultValueFactory = _ => VaeOptions.Defaults.Beta }
            .InRange(0, true, double.MaxValue, true);
        var validation = new Option<double>("--validation-fraction")
        {
            Description = "Share of the rows held out to pick the best epoch (and for early stopping); 0 keeps the last epoch.",
            DefaultValueFactory = _ => VaeOptions.Defaults.ValidationFraction,
        }.InRange(0, true, 1, false);
        var patience = new Option<int>("--patience")
        {
            Description = "Stop after this many epochs without a better validation loss; 0 trains every epoch.",
            DefaultValueFactory = _ => VaeOptions.Defaults.EarlyStoppingPatience,
        };
        patience.Validators.Add(r => { if (r.Tokens.Count > 0 && int.TryParse(r.Tokens[^1].Value, out int p) && p < 0) r.AddError($"--patience must be 0 or more; got {p}."); });
        var noStandardize = new Option<bool>("--no-standardize") { Description = "Do not standardize the features (per-feature mean and standard deviation, part of the model)." };
        var seed = CommonOptions.Seed("Seed of the weights, the shuffling and the validation split: the same seed and threads give the same model.");
        var threads = new Option<int>("--threads")
        {
            Description = "TorchSharp threads for training. One is fastest for small networks and on busy machines.",
            DefaultValueFactory = _ => 1,
        }.Positive();
        var contamination = new Option<double>("--contamination")
        {
            Description = "Expected share of anomalies: the threshold is set so that this share of the calibration rows is flagged.",
            DefaultValueFactory = _ => 0.05,
        }.InRange(0, false, 0.5, true);
        var calibration = new Option<double>("--calibration-fraction")
        {
            Description = "Share of the rows held out from training to set the threshold on: rows the model has not seen, like new data. " +
                          "0 sets it on the training rows, which the model fits better, so it then flags more than --contamination of new data.",
            DefaultValueFactory = _ => 0.2,
        }.InRange(0, true, 1, false);
        var labelColumn = CommonOptions.LabelColumn(
            "Label column (0 = normal, 1 = anomaly). Never used for training; if present it is left out of the features and used to report ROC-AUC on the held-out rows. Without such a column every column is a feature.");
        var inputColumns = new Option<string[]>("--input-column")
        {
            Description = "Feature columns by name (comma-separated or repeated); default: every column except the label. For .idv files: the vector column(s) to use.",
            HelpName = "names",
            AllowMultipleArgumentsPerToken = false,
        };

        var command = new Command("train",
            "Train a VAE on a data file (unsupervised), set the anomaly threshold on rows held out from training, and write the model, ONNX encoder/decoder, a report and the loss plot.")
        {
            data, output, overwrite, hidden, latent, epochs, batchSize, learningRate, beta, validation, patience, noStandardize,
            seed, threads, contamination, calibration, labelColumn, inputColumns,
        };
        command.SetAction(parseResult => CommandExecution.Run(context, parseResult.GetValue(CliApp.Verbose), cancellationToken =>
            Execute(context, new Settings(
                parseResult.GetValue(data)!, parseResult.GetValue(output)!, parseResult.GetValue(overwrite),
                parseResult.GetValue(hidden), parseResult.GetValue(latent), parseResult.GetValue(epochs), parseResult.GetValue(batchSize),
                parseResult.GetValue(learningRate), parseResult.GetValue(beta), parseResult.GetValue(validation), parseResult.GetValue(patience),
                !parseResult.GetValue(noStandardize), parseResult.GetValue(seed), parseResult.GetValue(threads),
                parseResult.GetValue(contamination), parseResult.GetValue(calibration), parseResult.GetValue(labelColumn)!, parseResult.WasGiven(labelColumn),
                CommonOptions.Names(parseResult.GetValue(inputColumns))), cancellationToken)));
        return command;
    }

    internal static int Execute(CliContext context, Settings settings, CancellationToken cancellationToken)
    {
        var console = context.Out;
        var total = Stopwatch.StartNew();

        var options = VaeOptionsFor(settings);
        options.Validate();
        string dataPath = InputPaths.ResolveExistingFile(settings.DataPath, "data file");
        var output = OutputFolder.Prepare(settings.OutputPath, settings.Overwrite, OutputFiles);

        var ml = new MLContext(seed: settings.Seed);
        var data = DataFile.Load(ml, dataPath,
            new ColumnSelection(settings.LabelColumn, settings.LabelColumnGiven, settings.InputColumns), cancellationToken);
        console.MarkupLineInterpolated(
            $"[bold]Data[/] {dataPath}: {data.RowCount} rows × {data.FeatureCount} features{LabelNote(data)}");
        console.MarkupLineInterpolated(
            $"[bold]VAE[/] {data.FeatureCount} → {options.HiddenDim} → {options.HiddenDim} → {options.LatentDim}, up to {options.Epochs} epochs, batch {options.BatchSize}, lr {Invariant(options.LearningRate)}, β {Invariant(options.Beta)}, {Format.Percent(options.ValidationFraction)} held out for validation, {(options.Standardize ? "standardized" : "not standardized")}, seed {settings.Seed}, {settings.Threads} thread{(settings.Threads == 1 ? "" : "s")}");

        // Stage 1: the named feature columns → one vector. Stage 2: the VAE, on the rows not held out for the threshold.
        // Ctrl+C keeps the best epoch so far.
        var features = AnomalyPipeline.FitFeatures(ml, data);
        var featurized = features.Transform(data.Data);
        var split = CalibrationSplit.Create(ml, data, featurized, settings.CalibrationFraction, settings.Seed, cancellationToken);
        if (split.HoldsOut)
            console.MarkupLineInterpolated(
                $"[bold]Split[/] {split.TrainingRowCount} rows to train on, {split.CalibrationRowCount} held out to set the threshold on (--calibration-fraction {Invariant(settings.CalibrationFraction)})");
        options.CancellationToken = cancellationToken;
        VaeTransformer vae;
        bool cancelled = false;
        try
        {
            vae = TrainingProgressView.Run(console, options.Epochs, progress =>
            {
                options.Progress = progress;
                return ml.Transforms.VariationalAutoencoder(options).Fit(split.Training);
            });
        }
        catch (VaeTrainingCancelledException stopped) when (stopped.BestModelSoFar is not null)
        {
            vae = stopped.BestModelSoFar;
            cancelled = true;
        }
        using var _ = vae;
        var training = vae.TrainingReport!;
        double trainSeconds = training.Epochs.Count > 0 ? training.Epochs[^1].Elapsed.TotalSeconds : 0;
        if (cancelled)
            context.Error.MarkupLineInterpolated(
                $"[yellow]Stopped by Ctrl+C[/] after {training.Epochs.Count} complete epoch{(training.Epochs.Count == 1 ? "" : "s")}; writing the best model so far (epoch {training.BestEpoch}).");
        else
            console.MarkupLineInterpolated(
                $"Trained {training.Epochs.Count} epochs in {trainSeconds:0.0} s on {training.Device} ({training.Threads} thread{(training.Threads == 1 ? "" : "s")}); {training.StopReason}; kept the weights of epoch {training.BestEpoch}.");

        // From here on a cancelled run still finishes: the files are what Ctrl+C asked to keep.
        var work = cancelled ? CancellationToken.None : cancellationToken;

        // Stage 3: the threshold, a quantile of the calibration rows' reconstruction errors.
        float[] calibrationErrors = DataViewColumns.ReadSingles(vae.Transform(split.Calibration), options.ReconstructionErrorColumnName, work);
        float[] trainingErrors = split.HoldsOut
            ? DataViewColumns.ReadSingles(vae.Transform(split.Training), options.ReconstructionErrorColumnName, work)
            : calibrationErrors;
        float threshold = AnomalyPipeline.Threshold(calibrationErrors, settings.Contamination);
        var decision = AnomalyPipeline.FitDecision(ml, vae.Transform(featurized), options.ReconstructionErrorColumnName, threshold);
        var model = AnomalyPipeline.Assemble(features, vae, decision);
        int flaggedCalibration = calibrationErrors.Count(e => e > threshold);
        int flaggedTraining = trainingErrors.Count(e => e > threshold);
        if (split.HoldsOut)
            console.MarkupLineInterpolated($"[bold]Threshold[/] {Invariant(threshold)}: the {Format.Percent(1 - settings.Contamination)} quantile of the held-out rows' reconstruction errors (--contamination {Invariant(settings.Contamination)}); above it: {flaggedCalibration} of {calibrationErrors.Length} held-out rows, {flaggedTraining} of {trainingErrors.Length} training rows.");
        else
            console.MarkupLineInterpolated($"[bold]Threshold[/] {Invariant(threshold)}: the {Format.Percent(1 - settings.Contamination)} quantile of the training rows' reconstruction errors (--contamination {Invariant(settings.Contamination)}, --calibration-fraction 0); {flaggedTraining} of {trainingErrors.Length} training rows are above it. New rows score higher than training rows, so expect more than {Format.Percent(settings.Contamination)} of new data to be flagged.");

        // With labels: how the threshold does on the calibration rows (held out, so an honest estimate when there are any).
        ThresholdResult? labelled = null;
        string labelledRows = split.HoldsOut ? "held-out" : "training";
        if (split.CalibrationLabels is { } labels)
        {
            if (labels.Contains(1f) && labels.Contains(0f))
            {
                labelled = AnomalyEvaluation.EvaluateAtThreshold(ml, labels, calibrationErrors, calibrationErrors.Select(e => e > threshold).ToArray(), threshold);
                console.MarkupLineInterpolated(
                    $"[bold]Labels[/] (not used for training): ROC-AUC {labelled.RocAuc:0.000} on the {labels.Length} {labelledRows} rows; at the threshold precision {labelled.Precision:0.000}, recall {labelled.Recall:0.000}.{(split.HoldsOut ? "" : " Use 'evaluate' on held-out data for an honest estimate.")}");
            }
        }
        work.ThrowIfCancellationRequested();

        var report = TrainReport.Create(dataPath, data, settings, options, training, cancelled,
            new TrainReport.ThresholdInfo(threshold, settings.Contamination, settings.CalibrationFraction,
                split.HoldsOut
                    ? $"nearest-rank {1 - settings.Contamination:0.###} quantile of the reconstruction errors of the {calibrationErrors.Length} rows held out from training"
                    : $"nearest-rank {1 - settings.Contamination:0.###} quantile of the reconstruction errors of all {trainingErrors.Length} training rows",
                flaggedCalibration, calibrationErrors.Length, flaggedTraining, trainingErrors.Length),
            labelled is null ? null : new TrainReport.LabelledInfo(labelledRows + " rows", labelled), output, total.Elapsed.TotalSeconds);
        // All five files or none: each is written beside its target, then all are moved into place together.
        var inputSchema = AnomalyPipeline.InputSchema(data);
        var onnx = OnnxPair.Of(vae);
        output.WriteAll(
        [
            (ModelFile, path => ml.Model.SaveSafely(model, inputSchema, path, overwrite: true)),
            (EncoderFile, path => File.WriteAllBytes(path, onnx.Encoder)),
            (DecoderFile, path => File.WriteAllBytes(path, onnx.Decoder)),
            (LossPlotFile, path => Plots.Loss(path, training, $"VAE training on {Path.GetFileName(dataPath)}")),
            (ReportFile, path => Output.ReportFile.Write(path, report)),
        ], work);

        console.WriteLine();
        console.MarkupLine("[bold]Wrote[/]");
        foreach (var file in OutputFiles)
            console.MarkupLineInterpolated($"  {output.File(file)}");
        console.MarkupLineInterpolated($"[grey]Total time {total.Elapsed.TotalSeconds:0.0} s. Next: mlnetvae score --model {output.File(ModelFile)} --data <file> -o scores.csv[/]");
        return cancelled ? ExitCodes.Cancelled : ExitCodes.Success;
    }

    private static string LabelNote(TabularData data) => data.LabelColumn is null
        ? " (no label column: every column is a feature)"
        : $", label column '{data.LabelColumn}' with {data.AnomalyCount} anomalies (not used for training)";

    private static string Invariant(double value) => value.ToString("G4", CultureInfo.InvariantCulture);
}
