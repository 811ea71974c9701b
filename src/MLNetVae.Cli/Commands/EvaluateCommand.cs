using System.CommandLine;
using System.Diagnostics;
using System.Globalization;
using Microsoft.ML;
using MLNetVae.Cli.Evaluation;
using MLNetVae.Cli.Infrastructure;
using MLNetVae.Cli.Modeling;
using MLNetVae.Cli.Output;
using Spectre.Console;

namespace MLNetVae.Cli.Commands;

/// <summary>
/// <c>mlnetvae evaluate</c>: scores labelled data with a trained model and reports how well the scores rank the anomalies
/// (ROC-AUC, ML.NET's anomaly-detection evaluator) and how good the decisions at the threshold are (precision, recall),
/// with a score histogram per label and the ROC curve as PNGs and the numbers as JSON.
/// </summary>
internal static class EvaluateCommand
{
    public const string HistogramFile = "score-histogram.png";
    public const string RocFile = "roc.png";
    public const string ReportFile = "evaluation.json";
    public static readonly IReadOnlyList<string> OutputFiles = [HistogramFile, RocFile, ReportFile];

    internal sealed record Settings(string ModelPath, string DataPath, string OutputPath, bool Overwrite, float? Threshold, string LabelColumn);

    /// <summary>The content of evaluation.json.</summary>
    internal sealed record Report(string Tool, string Version, DateTimeOffset CreatedUtc, string Model, string Data, string LabelColumn,
        string ThresholdSource, ThresholdResult Result, double SecondsToScore);

    public static Command Create(CliContext context)
    {
        var model = CommonOptions.Model();
        var data = CommonOptions.Data("Labelled data (0 = normal, 1 = anomaly) with the model's feature columns; ideally rows the model was not trained on.");
        var output = CommonOptions.OutputFolder("Folder for score-histogram.png, roc.png and evaluation.json (created if needed).");
        var overwrite = CommonOptions.Overwrite();
        var threshold = CommonOptions.Threshold();
        var labelColumn = CommonOptions.LabelColumn("Label column: 0 = normal, 1 = anomaly.");
        var command = new Command("evaluate",
            "Evaluate a trained model on labelled data: ROC-AUC, precision and recall at the threshold, a score histogram and the ROC curve.")
        {
            model, data, output, overwrite, threshold, labelColumn,
        };
        command.SetAction(parseResult => CommandExecution.Run(context, parseResult.GetValue(CliApp.Verbose), cancellationToken =>
            Execute(context, new Settings(parseResult.GetValue(model)!, parseResult.GetValue(data)!, parseResult.GetValue(output)!,
                parseResult.GetValue(overwrite), parseResult.GetValue(threshold), parseResult.GetValue(labelColumn)!), cancellationToken)));
        return command;
    }

    internal static int Execute(CliContext context, Settings settings, CancellationToken cancellationToken)
    {
        var console = context.Out;
        var output = OutputFolder.Prepare(settings.OutputPath, settings.Overwrite, OutputFiles);
        string dataPath = InputPaths.ResolveExistingFile(settings.DataPath, "data file");

        var ml = new MLContext(seed: 1);
        using var model = ModelFile.Load(ml, settings.ModelPath);
        var data = ModelScoring.LoadData(ml, model, dataPath, settings.LabelColumn, labelRequired: true, labelPurpose: " (evaluate needs labels)", cancellationToken);
        var labels = data.Labels!;
        console.MarkupLineInterpolated($"[bold]Model[/] {model.Path}: {ScoreCommand.Describe(model)}");
        console.MarkupLineInterpolated($"[bold]Data[/] {dataPath}: {data.RowCount} rows, {data.AnomalyCount} labelled anomalies (column '{data.LabelColumn}')");

        var clock = Stopwatch.StartNew();
        var scored = ModelScoring.Score(model, data, settings.Threshold, readMu: false, cancellationToken);
        double scoreSeconds = clock.Elapsed.TotalSeconds;
        var result = AnomalyEvaluation.EvaluateAtThreshold(ml, labels, scored.Scores, scored.Predicted, scored.Threshold);
        var roc = RocCurve.Compute(labels, scored.Scores);
        cancellationToken.ThrowIfCancellationRequested();

        string name = Path.GetFileName(dataPath);
        int normals = result.Rows - result.Anomalies;
        output.WriteAll(
        [
            (HistogramFile, path => Plots.ScoreHistogram(path, scored.Scores, labels, scored.Threshold,
                $"Score: {model.ScoreDescription}", $"Anomaly scores on {name}, by label")),
            (RocFile, path => Plots.Roc(path, roc, result.RocAuc,
                normals == 0 ? 0 : (double)result.FalsePositives / normals, (double)result.TruePositives / result.Anomalies,
                $"threshold {scored.Threshold.ToString("G4", CultureInfo.InvariantCulture)}: precision {result.Precision:0.00}, recall {result.Recall:0.00}",
                $"ROC of the VAE's anomaly score on {name}")),
            (ReportFile, path => Output.ReportFile.Write(path, new Report("mlnetvae evaluate",
                typeof(Report).Assembly.GetName().Version?.ToString(3) ?? "unknown", DateTimeOffset.UtcNow, model.Path, dataPath,
                data.LabelColumn!, scored.ThresholdSource, result, scoreSeconds))),
        ], cancellationToken);

        console.WriteLine();
        console.Write(MetricsTable(result, scored));
        console.MarkupLineInterpolated(
            $"[grey]ROC-AUC: how well the score ranks anomalies above normal rows (0.5 = chance), from ML.NET's AnomalyDetection.Evaluate. Precision/recall: of the rows with score > threshold. DR@{result.FalsePositiveCount}FP: share of anomalies scored above the {result.FalsePositiveCount}th-highest normal row.[/]");
        console.WriteLine();
        console.MarkupLine("[bold]Wrote[/]");
        foreach (var file in OutputFiles)
            console.MarkupLineInterpolated($"  {output.File(file)}");
        return ExitCodes.Success;
    }

    private static Table MetricsTable(ThresholdResult r, ScoredRows scored) => new Table().Border(TableBorder.Rounded)
        .AddColumn(new TableColumn("ROC-AUC").RightAligned())
        .AddColumn(new TableColumn("Threshold").RightAligned())
        .AddColumn(new TableColumn("Flagged").RightAligned())
        .AddColumn(new TableColumn("TP").RightAligned())
        .AddColumn(new TableColumn("FP").RightAligned())
        .AddColumn(new TableColumn("Precision").RightAligned())
        .AddColumn(new TableColumn("Recall").RightAligned())
        .AddColumn(new TableColumn("F1").RightAligned())
        .AddColumn(new TableColumn($"DR@{r.FalsePositiveCount}FP").RightAligned())
        .AddRow(
            Format.Fixed(r.RocAuc, 3),
            Markup.Escape($"{scored.Threshold.ToString("G4", CultureInfo.InvariantCulture)} ({scored.ThresholdSource})"),
            $"{r.Flagged} of {r.Rows}",
            r.TruePositives.ToString(CultureInfo.InvariantCulture),
            r.FalsePositives.ToString(CultureInfo.InvariantCulture),
            Format.Fixed(r.Precision, 3),
            Format.Fixed(r.Recall, 3),
            Format.Fixed(r.F1, 3),
            Format.Fixed(r.DetectionRate, 3));
}
