using System.CommandLine;
using System.Diagnostics;
using System.Globalization;
using Microsoft.ML;
using MLNetVae.Cli.Data;
using MLNetVae.Cli.Evaluation;
using MLNetVae.Cli.Infrastructure;
using MLNetVae.Cli.Output;
using Spectre.Console;

namespace MLNetVae.Cli.Commands;

/// <summary>
/// <c>mlnetvae demo</c>: trains the library's anomaly detector with its defaults on the sample data without labels, scores every row,
/// reports ROC-AUC against the labels next to ML.NET's randomized-PCA detector fitted on the same rows, and writes the
/// ONNX models, two plots and a JSON report.
/// </summary>
internal static class DemoCommand
{
    public const string DefaultDataPath = "samples/data/20news_3_bert768.csv";
    public const string DefaultOutputPath = "demo-output";
    public const string EncoderFile = "encoder.onnx";
    public const string DecoderFile = "decoder.onnx";
    public const string LatentPlotFile = "latent.png";
    public const string LossPlotFile = "loss.png";
    public const string ReportFile = "report.json";
    public static readonly IReadOnlyList<string> OutputFiles = [EncoderFile, DecoderFile, LatentPlotFile, LossPlotFile, ReportFile];

    /// <summary>Options of one demo run.</summary>
    internal sealed record Settings(string DataPath, string OutputPath, int? Epochs, int Seed, bool Overwrite, int Threads = 1);

    /// <summary>
    /// The detector the demo trains: the library's <see cref="VaeAnomalyOptions"/> defaults, as a user's first call gets
    /// them, with the demo's seed, and one TorchSharp thread (a second buys nothing for these sizes, and on a machine
    /// whose cores are busy with other work two threads were 10-15 times slower).
    /// </summary>
    internal static VaeAnomalyOptions DetectorOptionsFor(Settings settings) => new()
    {
        Epochs = settings.Epochs,
        NumberOfThreads = settings.Threads,
        Seed = settings.Seed,
    };

    public static Command Create(CliContext context)
    {
        var data = new Option<string>("--data")
        {
            Description = "Labelled CSV: header, Label first (1 = anomaly, 0 = normal), then the features. The default sample is also looked up from the repository root and the tool's folder; other relative paths are resolved against the current folder.",
            HelpName = "csv",
            DefaultValueFactory = _ => DefaultDataPath,
        };
        var output = new Option<string>("--output", "-o")
        {
            Description = "Folder for encoder.onnx, decoder.onnx, latent.png, loss.png and report.json (default: a new demo-output/<date-time> folder per run, so nothing earlier is overwritten).",
            HelpName = "folder",
            DefaultValueFactory = _ => Path.Combine(DefaultOutputPath, DateTime.Now.ToString("yyyyMMdd-HHmmss", System.Globalization.CultureInfo.InvariantCulture)),
        };
        var epochs = new Option<int?>("--epochs")
        {
            Description = "Maximum training epochs; default: the detector's choice (about 2,000 optimizer steps).",
        };
        var seed = new Option<int>("--seed")
        {
            Description = "Seed of the VAE (weights, shuffling, validation split) and of the PCA baseline.",
            DefaultValueFactory = _ => 1,
        };
        var overwrite = new Option<bool>("--overwrite") { Description = "Replace existing output files." };
        var threads = new Option<int>("--threads")
        {
            Description = "TorchSharp threads for training. One is fastest for this small network.",
            DefaultValueFactory = _ => 1,
        };
        epochs.Validators.Add(r => RequirePositive(r, "--epochs"));
        threads.Validators.Add(r => RequirePositive(r, "--threads"));

        var command = new Command("demo",
            "Train the VAE on the bundled sample data (unsupervised), compare its anomaly ROC-AUC with a PCA baseline, and write ONNX models, plots and a report.")
        {
            data, output, epochs, seed, overwrite, threads,
        };
        command.SetAction(parseResult => CommandExecution.Run(context, parseResult.GetValue(CliApp.Verbose), cancellationToken =>
            Execute(context, new Settings(
                parseResult.GetValue(data)!, parseResult.GetValue(output)!, parseResult.GetValue(epochs),
                parseResult.GetValue(seed), parseResult.GetValue(overwrite), parseResult.GetValue(threads)), cancellationToken)));
        return command;
    }

    private static void RequirePositive(System.CommandLine.Parsing.OptionResult result, string name)
    {
        // Validators also run when the value did not parse; that error is reported already.
        if (result.Tokens.Count > 0 && int.TryParse(result.Tokens[^1].Value, out int value) && value <= 0)
            result.AddError($"{name} must be a positive number; got {value}.");
    }

    internal static int Execute(CliContext context, Settings settings, CancellationToken cancellationToken)
    {
        var console = context.Out;
        var total = Stopwatch.StartNew();

        var options = DetectorOptionsFor(settings);
        options.Validate();
        string dataPath = settings.DataPath == DefaultDataPath
            ? InputPaths.ResolveBundledFile(settings.DataPath, "bundled sample data")
            : InputPaths.ResolveExistingFile(settings.DataPath, "data file", "Check the path, or leave --data out to use the bundled sample.");
        var output = OutputFolder.Prepare(settings.OutputPath, settings.Overwrite, OutputFiles);

        var ml = new MLContext(seed: settings.Seed);
        var data = LabelledCsv.Load(ml, dataPath, cancellationToken);
        // The demo trains on every row (no calibration hold-out), so these are the sizes Fit chooses.
        int hiddenDim = VaeAnomalyOptions.Defaults.HiddenDimFor(data.FeatureCount, data.RowCount);
        int latentDim = VaeAnomalyOptions.Defaults.LatentDimFor(data.FeatureCount, data.RowCount);
        console.MarkupLineInterpolated(
            $"[bold]Data[/] {dataPath}: {data.RowCount} rows × {data.FeatureCount} features, {data.AnomalyCount} labelled anomalies [grey](labels are used only for evaluation)[/]");
        console.MarkupLineInterpolated(
            $"[bold]Detector[/] ml.AnomalyDetection.Trainers.VariationalAutoencoder() with its defaults: VAE {data.FeatureCount} → {hiddenDim} → {hiddenDim} → {latentDim}, score {options.ScoreKind} ({options.MonteCarloSamples} draws), β {options.Beta.ToString(CultureInfo.InvariantCulture)}, batch {options.BatchSize}, seed {settings.Seed}");

        // 1. The detector, trained on every row without labels.
        options.CancellationToken = cancellationToken;
        var clock = Stopwatch.StartNew();
        using var detector = TrainingProgressView.Run(console, options.Epochs ?? VaeAnomalyOptions.Defaults.MaximumEpochs, progress =>
        {
            options.Progress = progress;
            return ml.AnomalyDetection.Trainers.VariationalAutoencoder(options).Fit(data.Data);
        });
        var vae = detector.Vae;
        double vaeTrainSeconds = clock.Elapsed.TotalSeconds;
        var training = vae.TrainingReport!;
        console.MarkupLineInterpolated(
            $"Trained {training.Epochs.Count} epochs in {vaeTrainSeconds:0.0} s on {training.Device} ({training.Threads} thread{(training.Threads == 1 ? "" : "s")}); {training.StopReason}; kept the weights of epoch {training.BestEpoch}.");

        clock.Restart();
        float[] vaeScores = DataViewColumns.ReadSingles(detector.Transform(data.Data), options.ScoreColumnName, cancellationToken);
        float[][] mu = DataViewColumns.ReadVectors(vae.Transform(data.Data), vae.Options.MuColumnName, cancellationToken);
        double vaeScoreSeconds = clock.Elapsed.TotalSeconds;
        cancellationToken.ThrowIfCancellationRequested();

        // 2. The baseline: ML.NET's randomized PCA on the same rows, as many components as the VAE has latent dimensions.
        // The evaluation's rank rule: the VAE's latent size, at most half the rows (near the row count ML.NET's score is NaN).
        var pca = PcaBaseline.FitAndScore(ml, data, Math.Min(vae.LatentDim, data.RowCount / 2), settings.Seed, cancellationToken);

        // 2b. The classic detector users would pick instead: scikit-learn's IsolationForest on the same rows, when the
        // machine has Python with scikit-learn (ML.NET has none); otherwise the table says why it is missing.
        var allRows = Enumerable.Range(0, data.RowCount).ToArray();
        var (forest, forestSkipped) = IsolationForestBaseline.Run(
            new Dictionary<string, string> { ["demo"] = dataPath }, [new IsolationForestSplit("demo", settings.Seed, allRows, allRows, WithScores: true)],
            timeout: TimeSpan.FromMinutes(2));  // it takes about a second; a hung interpreter must not hang the demo
        cancellationToken.ThrowIfCancellationRequested();

        // 3. All scored against the labels the same way.
        var vaeResult = AnomalyEvaluation.Evaluate(ml, $"VAE detector ({options.ScoreKind})", data.Labels, vaeScores, vaeTrainSeconds, vaeScoreSeconds);
        var pcaResult = AnomalyEvaluation.Evaluate(ml, $"PCA-{pca.Rank} ML.NET score", data.Labels, pca.MlNetScores, pca.TrainSeconds, pca.ScoreSeconds);
        var pcaErrorResult = AnomalyEvaluation.Evaluate(ml, $"PCA-{pca.Rank} recon. error", data.Labels, pca.ReconstructionErrors, pca.TrainSeconds, pca.ScoreSeconds);
        var forestResult = forest is [{ Scores: { } forestScores } run]
            ? AnomalyEvaluation.Evaluate(ml, "IsolationForest (scikit-learn)", data.Labels, forestScores, run.FitSeconds, run.ScoreSeconds)
            : null;
        cancellationToken.ThrowIfCancellationRequested();

        // 4. Files.
        var projection = LatentProjection.ToTwoDimensions(mu);
        var report = DemoReport.Create(dataPath, data, vae.Options, training, vaeResult, pca.Rank, settings.Seed, pcaResult, pcaErrorResult, forestResult, forestSkipped, projection, total.Elapsed.TotalSeconds);
        var onnx = OnnxPair.Of(vae);
        output.WriteAll(
        [
            .. onnx.Files(EncoderFile, DecoderFile),
            (LatentPlotFile, path => Plots.Latent(path, projection, data.Labels, $"VAE latent means of {Path.GetFileName(dataPath)}, projected to 2-D")),
            (LossPlotFile, path => Plots.Loss(path, training, $"VAE training on {Path.GetFileName(dataPath)}")),
            (ReportFile, path => Output.ReportFile.Write(path, report)),
        ], cancellationToken);

        console.WriteLine();
        console.Write(ResultsTable.Create(forestResult is null ? [vaeResult, pcaResult, pcaErrorResult] : [vaeResult, forestResult, pcaResult, pcaErrorResult]));
        if (forestResult is null)
            console.MarkupLineInterpolated($"[grey]IsolationForest (scikit-learn) not shown: {forestSkipped}[/]");
        console.MarkupLineInterpolated(
            $"[grey]Unsupervised: every model is fitted on all {data.RowCount} rows without labels; the labels only score the results. P/R@top{Format.Percent(1 - vaeResult.ThresholdQuantile)}: precision/recall when the top {Format.Percent(1 - vaeResult.ThresholdQuantile)} of a method's scores are flagged. DR@{vaeResult.FalsePositiveCount}FP: share of anomalies scored above the {vaeResult.FalsePositiveCount}th-highest normal row. ML.NET score: RandomizedPca's Score (residual / row norm); recon. error: the same PCA's squared residual.[/]");
        console.WriteLine();
        console.MarkupLine("[bold]Wrote[/]");
        foreach (var file in OutputFiles)
            console.MarkupLineInterpolated($"  {output.File(file)}");
        console.MarkupLineInterpolated($"[grey]Total time {total.Elapsed.TotalSeconds:0.0} s.[/]");
        return ExitCodes.Success;
    }
}
