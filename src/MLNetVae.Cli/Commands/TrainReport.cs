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
    TrainReport.DetectorInfo Detector,
    int Threads,
    TrainingInfo Training,
    bool StoppedByCtrlC,
    TrainReport.ThresholdInfo AnomalyThreshold,
    TrainReport.LabelledInfo? Labels,
    TrainReport.FilesInfo Files,
    double TotalSeconds)
{
    /// <param name="FeatureColumns">The feature columns (the model's input columns), abbreviated when there are many.</param>
    internal sealed record DataInfo(string Path, int Rows, int Features, string FeatureColumns, string? LabelColumn, int? Anomalies);

    /// <param name="Value">Rows whose Score is above this are flagged (PredictedLabel = true).</param>
    /// <param name="Contamination">The share of the calibration rows the threshold was chosen to flag.</param>
    /// <param name="CalibrationFraction">The share of the file's rows held out from training to set it on (0: the training rows).</param>
    /// <param name="Rule">How it was computed.</param>
    /// <param name="FlaggedCalibrationRows">Calibration rows above it.</param>
    /// <param name="FlaggedTrainingRows">Training rows above it.</param>
    internal sealed record ThresholdInfo(float Value, double Contamination, double CalibrationFraction, string Rule,
        int FlaggedCalibrationRows, int CalibrationRows, int FlaggedTrainingRows, int TrainingRows);

    /// <summary>The threshold against the labels (never used for training), on the rows named by <paramref name="Rows"/>.</summary>
    internal sealed record LabelledInfo(string Rows, ThresholdResult Result);

    /// <param name="Score">The score kind (<see cref="VaeAnomalyScoreKind"/>).</param>
    /// <param name="Samples">Draws per row for the sampling scores.</param>
    /// <param name="Beta">Weight of the KL term (also in the negative-ELBO score).</param>
    /// <param name="Likelihood">The per-feature term of the loss and the negative-ELBO score (<see cref="VaeAnomalyLikelihood"/>).</param>
    internal sealed record DetectorInfo(string Score, int Samples, double Beta, string Likelihood);

    internal sealed record FilesInfo(string Model, string Encoder, string Decoder, string LossPlot, string ModelColumns);

    public static TrainReport Create(string dataPath, TabularData data, TrainCommand.Settings settings, VaeAnomalyTransformer detector,
        bool cancelled, ThresholdInfo threshold, LabelledInfo? labelled, OutputFolder output, double totalSeconds)
    {
        var vaeOptions = detector.Vae.Options;
        var options = detector.Options;
        return new(
            "mlnetvae train",
            typeof(TrainReport).Assembly.GetName().Version?.ToString(3) ?? "unknown",
            DateTimeOffset.UtcNow,
            new DataInfo(dataPath, data.RowCount, data.FeatureCount, Names(data.FeatureColumns), data.LabelColumn,
                data.Labels is null ? null : data.AnomalyCount),
            VaeSettings.From(vaeOptions),
            new DetectorInfo(options.ScoreKind.ToString(), options.MonteCarloSamples, options.Beta, options.Likelihood.ToString()),
            settings.Threads,
            TrainingInfo.From(detector.Vae.TrainingReport!),
            cancelled,
            threshold,
            labelled,
            new FilesInfo(output.File(TrainCommand.ModelFile), output.File(TrainCommand.EncoderFile), output.File(TrainCommand.DecoderFile),
                output.File(TrainCommand.LossPlotFile),
                $"input: the feature columns by name; output adds {AnomalyPipeline.FeaturesColumn}, {options.ScoreColumnName}, {options.PredictedLabelColumnName} (the library's VaeAnomalyTransformer)"),
            totalSeconds);
    }

    private static string Names(IReadOnlyList<string> names) => names.Count <= 12
        ? string.Join(", ", names)
        : $"{string.Join(", ", names.Take(5))}, ..., {string.Join(", ", names.TakeLast(2))} ({names.Count} columns)";
}
