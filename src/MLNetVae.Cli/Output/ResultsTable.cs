using MLNetVae.Cli.Evaluation;
using Spectre.Console;

namespace MLNetVae.Cli.Output;

/// <summary>The anomaly-detection comparison table: one row per method.</summary>
internal static class ResultsTable
{
    public static Table Create(IReadOnlyList<AnomalyResult> results)
    {
        var first = results[0];
        var table = new Table().Border(TableBorder.Rounded)
            .AddColumn("Method")
            .AddColumn(new TableColumn("ROC-AUC").RightAligned())
            .AddColumn(new TableColumn($"P@top{Format.Percent(1 - first.ThresholdQuantile)}").RightAligned())
            .AddColumn(new TableColumn($"R@top{Format.Percent(1 - first.ThresholdQuantile)}").RightAligned())
            .AddColumn(new TableColumn($"DR@{first.FalsePositiveCount}FP").RightAligned())
            .AddColumn(new TableColumn("Train s").RightAligned());
        double bestAuc = results.Max(r => r.RocAuc);
        foreach (var r in results)
        {
            string auc = Format.Fixed(r.RocAuc, 3);
            table.AddRow(
                Markup.Escape(r.Method),
                r.RocAuc == bestAuc && results.Count > 1 ? $"[bold green]{auc}[/]" : auc,
                Format.Fixed(r.PrecisionAtThreshold, 3),
                Format.Fixed(r.RecallAtThreshold, 3),
                Format.Fixed(r.DetectionRate, 3),
                Format.Fixed(r.TrainSeconds, 2));
        }
        return table;
    }
}
