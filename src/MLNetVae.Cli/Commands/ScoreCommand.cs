using System.CommandLine;
using System.Diagnostics;
using System.Globalization;
using Microsoft.ML;
using MLNetVae.Cli.Infrastructure;
using MLNetVae.Cli.Modeling;
using MLNetVae.Cli.Output;
using Spectre.Console;

namespace MLNetVae.Cli.Commands;

/// <summary>
/// <c>mlnetvae score</c>: runs a trained model over a data file and writes one CSV line per row: its index, the latent
/// means, the anomaly score and the decision at the model's threshold (or --threshold).
/// </summary>
internal static class ScoreCommand
{
    internal sealed record Settings(string ModelPath, string DataPath, string OutputPath, bool Overwrite, float? Threshold,
        string LabelColumn, bool LabelColumnGiven, int Top = 5);

    public static Command Create(CliContext context)
    {
        var model = CommonOptions.Model();
        var data = CommonOptions.Data("Data to score: it needs the model's feature columns (by name, any order); other columns are ignored.");
        var output = CommonOptions.OutputFile("CSV to write: Row (0-based, file order), Mu0..MuN (latent means), Score (the model's anomaly score), PredictedLabel (1 = anomaly), and Label if the data has one.");
        var overwrite = CommonOptions.Overwrite();
        var threshold = CommonOptions.Threshold();
        var labelColumn = CommonOptions.LabelColumn("Label column to copy into the output, if the data has it (not used for scoring).");
        var command = new Command("score", "Score a data file with a trained model: latent means, anomaly score and predicted label per row, as CSV.")
        {
            model, data, output, overwrite, threshold, labelColumn,
        };
        command.SetAction(parseResult => CommandExecution.Run(context, parseResult.GetValue(CliApp.Verbose), cancellationToken =>
            Execute(context, new Settings(parseResult.GetValue(model)!, parseResult.GetValue(data)!, parseResult.GetValue(output)!,
                parseResult.GetValue(overwrite), parseResult.GetValue(threshold), parseResult.GetValue(labelColumn)!,
                parseResult.WasGiven(labelColumn)), cancellationToken)));
        return command;
    }

    internal static int Execute(CliContext context, Settings settings, CancellationToken cancellationToken)
    {
        var console = context.Out;
        var clock = Stopwatch.StartNew();
        string outputPath = OutputFile.Prepare(settings.OutputPath, settings.Overwrite);
        string dataPath = InputPaths.ResolveExistingFile(settings.DataPath, "data file");

        var ml = new MLContext(seed: 1);
        using var model = ModelFile.Load(ml, settings.ModelPath);
        var data = ModelScoring.LoadData(ml, model, dataPath, settings.LabelColumn, settings.LabelColumnGiven, "", cancellationToken);
        console.MarkupLineInterpolated($"[bold]Model[/] {model.Path}: {Describe(model)}");
        console.MarkupLineInterpolated($"[bold]Data[/] {dataPath}: {data.RowCount} rows, {model.InputColumns.Count} input column(s) read by name{(data.LabelColumn is null ? "" : $", label column '{data.LabelColumn}' copied to the output")}");

        var scored = ModelScoring.Score(model, data, settings.Threshold, readMu: true, cancellationToken);
        cancellationToken.ThrowIfCancellationRequested();

        int latent = model.Vae.LatentDim;
        string mu = model.Vae.Options.MuColumnName;
        var header = new List<string> { "Row" };
        header.AddRange(Enumerable.Range(0, latent).Select(j => mu + j.ToString(CultureInfo.InvariantCulture)));
        header.Add(AnomalyPipeline.ScoreColumn);
        header.Add(AnomalyPipeline.PredictedLabelColumn);
        if (data.Labels is not null)
            header.Add(data.LabelColumn!);
        OutputFile.Write(outputPath, settings.Overwrite, path => CsvOutput.Write(path, header, writeLine =>
        {
            for (int i = 0; i < scored.Scores.Length; i++)
            {
                var fields = new List<string>(latent + 4) { i.ToString(CultureInfo.InvariantCulture) };
                fields.AddRange(scored.Mu![i].Select(CsvOutput.Number));
                fields.Add(CsvOutput.Number(scored.Scores[i]));
                fields.Add(scored.Predicted[i] ? "1" : "0");
                if (data.Labels is { } labels)
                    fields.Add(labels[i].ToString(CultureInfo.InvariantCulture));
                writeLine(fields);
            }
        }));

        console.MarkupLineInterpolated(
            $"[bold]Flagged[/] {scored.FlaggedCount} of {scored.Scores.Length} rows ({Format.Percent(Math.Round((double)scored.FlaggedCount / scored.Scores.Length, 3))}) with score > {scored.Threshold.ToString("G6", CultureInfo.InvariantCulture)} (threshold {scored.ThresholdSource}).");
        console.Write(TopRows(scored, data.Labels, settings.Top));
        console.MarkupLineInterpolated($"[bold]Wrote[/] {outputPath} ({scored.Scores.Length} rows; columns Row, {mu}0..{mu}{latent - 1}, Score, PredictedLabel{(data.Labels is null ? "" : ", " + data.LabelColumn)}) in {clock.Elapsed.TotalSeconds:0.0} s.");
        return ExitCodes.Success;
    }

    internal static string Describe(LoadedModel model) =>
        $"VAE {model.Vae.InputDim} → {model.Vae.HiddenDim} → {model.Vae.LatentDim}" +
        (model.Vae.TrainingReport is { } report ? $", trained {report.Epochs.Count} epochs (kept epoch {report.BestEpoch})" : "") +
        (model.Detector is { } detector ? $", anomaly detector: score {detector.ScoreKind}, threshold {detector.Threshold.ToString("G6", CultureInfo.InvariantCulture)}"
            : model.HasDecision ? ", with an anomaly threshold" : ", no anomaly threshold");

    private static Table TopRows(ScoredRows scored, float[]? labels, int top)
    {
        var table = new Table().Border(TableBorder.Rounded).Title($"The {Math.Min(top, scored.Scores.Length)} highest scores")
            .AddColumn(new TableColumn("Row").RightAligned())
            .AddColumn(new TableColumn("Score").RightAligned())
            .AddColumn(new TableColumn("Predicted").Centered());
        if (labels is not null)
            table.AddColumn(new TableColumn("Label").Centered());
        foreach (int i in Enumerable.Range(0, scored.Scores.Length).OrderByDescending(i => scored.Scores[i]).Take(top))
        {
            var cells = new List<string>
            {
                i.ToString(CultureInfo.InvariantCulture),
                scored.Scores[i].ToString("G5", CultureInfo.InvariantCulture),
                scored.Predicted[i] ? "[red]anomaly[/]" : "normal",
            };
            if (labels is not null)
                cells.Add(labels[i] == 1f ? "1" : "0");
            table.AddRow(cells.ToArray());
        }
        return table;
    }
}
