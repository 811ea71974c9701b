using MLNetVae.Cli.Data;
using MLNetVae.Cli.Evaluation;
using MLNetVae.Cli.Infrastructure;
using MLNetVae.Cli.Modeling;
using MLNetVae.Cli.Output;

namespace MLNetVae.Cli.Commands;

/// <summary>The content of train's report.json.</summary>
internal sealed record TrainReport(
    string Tool,
    string Version,
    DateTimeOffset CreatedUtc,
    TrainReport.DataInfo Data,
    VaeSettings Options,
    int Threads,
    TrainingInfo Training,
    bool StoppedByCtrlC,
    TrainReport.ThresholdInfo AnomalyThreshold,
    ThresholdResult? TrainingRowsAgainstLabels,
    TrainReport.FilesInfo Files,
    double TotalSeconds)
{
    /// <param name="FeatureColumns">The feature columns (the model's input columns), abbreviated when there are many.</param>
    internal sealed record DataInfo(string Path, int Rows, int Features, string FeatureColumns, string? LabelColumn, int? Anomalies);

    /// <param name="Value">Rows whose Score (reconstruction error) is above this are flagged (PredictedLabel = true).</param>
    /// <param name="Contamination">The share of training rows the threshold was chosen to flag.</param>
    /// <param name="Rule">How it was computed.</param>
    /// <param name="FlaggedTrainingRows">Training rows above it.</param>
    internal sealed record ThresholdInfo(float Value, double Contamination, string Rule, int FlaggedTrainingRows, int TrainingRows);

    internal sealed record FilesInfo(string Model, string Encoder, string Decoder, string LossPlot, string ModelColumns);

    public static TrainReport Create(string dataPath, TabularData data, TrainCommand.Settings settings, VaeOptions options,
        VaeTrainingReport training, bool cancelled, float threshold, int flagged, int rows, ThresholdResult? labelled,
        OutputFolder output, double totalSeconds) => new(
        "mlnetvae train",
        typeof(TrainReport).Assembly.GetName().Version?.ToString(3) ?? "unknown",
        DateTimeOffset.UtcNow,
        new DataInfo(dataPath, data.RowCount, data.FeatureCount, Names(data.FeatureColumns), data.LabelColumn,
            data.Labels is null ? null : data.AnomalyCount),
        VaeSettings.From(options),
        settings.Threads,
        TrainingInfo.From(training),
        cancelled,
        new ThresholdInfo(threshold, settings.Contamination,
            $"nearest-rank {1 - settings.Contamination:0.###} quantile of the reconstruction errors of all {rows} rows of the training file",
            flagged, rows),
        labelled,
        new FilesInfo(output.File(TrainCommand.ModelFile), output.File(TrainCommand.EncoderFile), output.File(TrainCommand.DecoderFile),
            output.File(TrainCommand.LossPlotFile),
            $"input: the feature columns by name; output adds {AnomalyPipeline.FeaturesColumn}, {options.MuColumnName}, {options.LogVarColumnName}, {options.ReconstructionColumnName}, {options.ReconstructionErrorColumnName}, {AnomalyPipeline.ScoreColumn}, {AnomalyPipeline.PredictedLabelColumn}, {AnomalyPipeline.ThresholdColumn}"),
        totalSeconds);

    private static string Names(IReadOnlyList<string> names) => names.Count <= 12
        ? string.Join(", ", names)
        : $"{string.Join(", ", names.Take(5))}, ..., {string.Join(", ", names.TakeLast(2))} ({names.Count} columns)";
}
