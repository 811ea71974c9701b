using Microsoft.ML;

namespace MLNetVae.Cli.Evaluation;

/// <summary>How well one method's anomaly scores separate the labelled anomalies from the normal rows.</summary>
/// <param name="Method">Name shown in the table, e.g. "VAE (reconstruction error)".</param>
/// <param name="RocAuc">Area under the ROC curve (ML.NET's anomaly-detection evaluator).</param>
/// <param name="Threshold">Score above which a row is flagged: the <paramref name="ThresholdQuantile"/> quantile of all scores.</param>
/// <param name="ThresholdQuantile">Quantile that sets <paramref name="Threshold"/> (0.95: the top 5% are flagged).</param>
/// <param name="Flagged">Rows with a score above the threshold.</param>
/// <param name="PrecisionAtThreshold">Share of the flagged rows that are labelled anomalies.</param>
/// <param name="RecallAtThreshold">Share of the labelled anomalies that are flagged.</param>
/// <param name="DetectionRate">ML.NET's detection rate at <paramref name="FalsePositiveCount"/> false positives: the share of anomalies ranked above the K-th highest-scoring normal row.</param>
/// <param name="FalsePositiveCount">K of <paramref name="DetectionRate"/>.</param>
/// <param name="TrainSeconds">Wall-clock training time.</param>
/// <param name="ScoreSeconds">Wall-clock time to score every row.</param>
internal sealed record AnomalyResult(
    string Method,
    double RocAuc,
    double Threshold,
    double ThresholdQuantile,
    int Flagged,
    double PrecisionAtThreshold,
    double RecallAtThreshold,
    double DetectionRate,
    int FalsePositiveCount,
    double TrainSeconds,
    double ScoreSeconds);

/// <summary>How well scores and the decisions at one threshold match the labels (<c>mlnetvae evaluate</c>).</summary>
/// <param name="RocAuc">Area under the ROC curve of the scores (ML.NET's anomaly-detection evaluator).</param>
/// <param name="Threshold">The threshold the decisions were made at (score &gt; threshold = anomaly).</param>
/// <param name="Rows">Rows evaluated.</param>
/// <param name="Anomalies">Rows labelled 1.</param>
/// <param name="Flagged">Rows predicted anomalous.</param>
/// <param name="TruePositives">Flagged rows labelled 1.</param>
/// <param name="FalsePositives">Flagged rows labelled 0.</param>
/// <param name="Precision">TruePositives / Flagged (0 when nothing is flagged).</param>
/// <param name="Recall">TruePositives / Anomalies.</param>
/// <param name="F1">Harmonic mean of precision and recall.</param>
/// <param name="DetectionRate">ML.NET's detection rate at <paramref name="FalsePositiveCount"/> false positives.</param>
/// <param name="FalsePositiveCount">K of <paramref name="DetectionRate"/>.</param>
internal sealed record ThresholdResult(
    double RocAuc,
    double Threshold,
    int Rows,
    int Anomalies,
    int Flagged,
    int TruePositives,
    int FalsePositives,
    double Precision,
    double Recall,
    double F1,
    double DetectionRate,
    int FalsePositiveCount);

/// <summary>Evaluates anomaly scores against labels with <c>ml.AnomalyDetection.Evaluate</c>, the same way for every method.</summary>
internal static class AnomalyEvaluation
{
    public const double DefaultThresholdQuantile = 0.95;
    public const int DefaultFalsePositiveCount = 10;

    /// <summary>
    /// Scores are "higher = more anomalous". Builds the rows ML.NET's evaluator needs (Label Single, Score Single,
    /// PredictedLabel = score &gt; threshold) and evaluates them; precision and recall at the threshold are counted here.
    /// </summary>
    public static AnomalyResult Evaluate(MLContext ml, string method, float[] labels, float[] scores,
        double trainSeconds, double scoreSeconds,
        double thresholdQuantile = DefaultThresholdQuantile, int falsePositiveCount = DefaultFalsePositiveCount)
    {
        if (labels.Length != scores.Length)
            throw new InvalidOperationException($"{method}: {scores.Length} scores for {labels.Length} labels.");
        var ranked = Rankable(scores, method);
        if (!labels.Contains(1f) || !labels.Contains(0f))
            throw new Infrastructure.CliException(
                "The data needs both normal (Label 0) and anomalous (Label 1) rows to measure ROC-AUC.",
                "Use a data set with both kinds of rows.");

        float threshold = Quantile(ranked, thresholdQuantile);
        var rows = new ScoredRow[labels.Length];
        for (int i = 0; i < rows.Length; i++)
            rows[i] = new ScoredRow { Label = labels[i], Score = ranked[i], PredictedLabel = ranked[i] > threshold };

        var metrics = ml.AnomalyDetection.Evaluate(ml.Data.LoadFromEnumerable(rows),
            labelColumnName: nameof(ScoredRow.Label), scoreColumnName: nameof(ScoredRow.Score),
            predictedLabelColumnName: nameof(ScoredRow.PredictedLabel), falsePositiveCount: falsePositiveCount);

        int flagged = rows.Count(r => r.PredictedLabel);
        int truePositives = rows.Count(r => r.PredictedLabel && r.Label == 1f);
        int anomalies = rows.Count(r => r.Label == 1f);
        return new AnomalyResult(method, metrics.AreaUnderRocCurve, threshold, thresholdQuantile, flagged,
            flagged == 0 ? 0 : (double)truePositives / flagged, (double)truePositives / anomalies,
            metrics.DetectionRateAtFalsePositiveCount, falsePositiveCount, trainSeconds, scoreSeconds);
    }

    /// <summary>
    /// Evaluates decisions already made at a fixed <paramref name="threshold"/> (evaluate): ROC-AUC and the detection
    /// rate from <c>ml.AnomalyDetection.Evaluate</c>, precision, recall and F1 of <paramref name="predicted"/> counted here.
    /// </summary>
    public static ThresholdResult EvaluateAtThreshold(MLContext ml, float[] labels, float[] scores, bool[] predicted, float threshold,
        int falsePositiveCount = DefaultFalsePositiveCount)
    {
        if (labels.Length != scores.Length || labels.Length != predicted.Length)
            throw new InvalidOperationException($"{scores.Length} scores and {predicted.Length} decisions for {labels.Length} labels.");
        var ranked = Rankable(scores, "The model");
        if (!labels.Contains(1f) || !labels.Contains(0f))
            throw new Infrastructure.CliException(
                $"The data needs both normal (label 0) and anomalous (label 1) rows to measure ROC-AUC; it has {labels.Count(l => l == 1f)} anomalies in {labels.Length} rows.",
                "Evaluate on a data set with both kinds of rows.");

        var rows = new ScoredRow[labels.Length];
        for (int i = 0; i < rows.Length; i++)
            rows[i] = new ScoredRow { Label = labels[i], Score = ranked[i], PredictedLabel = predicted[i] };
        var metrics = ml.AnomalyDetection.Evaluate(ml.Data.LoadFromEnumerable(rows),
            labelColumnName: nameof(ScoredRow.Label), scoreColumnName: nameof(ScoredRow.Score),
            predictedLabelColumnName: nameof(ScoredRow.PredictedLabel), falsePositiveCount: falsePositiveCount);

        int truePositives = rows.Count(r => r.PredictedLabel && r.Label == 1f);
        int falsePositives = rows.Count(r => r.PredictedLabel && r.Label != 1f);
        int anomalies = rows.Count(r => r.Label == 1f);
        int flagged = truePositives + falsePositives;
        double precision = flagged == 0 ? 0 : (double)truePositives / flagged;
        double recall = (double)truePositives / anomalies;
        double f1 = precision + recall == 0 ? 0 : 2 * precision * recall / (precision + recall);
        return new ThresholdResult(metrics.AreaUnderRocCurve, threshold, labels.Length, anomalies, flagged, truePositives, falsePositives,
            precision, recall, f1, metrics.DetectionRateAtFalsePositiveCount, falsePositiveCount);
    }

    /// <summary>
    /// The scores as ML.NET's evaluator can rank them. +∞ is a real score (a row so far out that its error overflows
    /// float32, which the detector flags), so it ranks above every finite score as <see cref="float.MaxValue"/>. NaN
    /// means the scorer failed (the CLI refuses rows with NaN or ∞ inputs: text files as they are read, typed files when
    /// they are scored), so it stops the evaluation.
    /// </summary>
    internal static float[] Rankable(float[] scores, string method)
    {
        int nan = Array.FindIndex(scores, float.IsNaN);
        if (nan >= 0)
            throw new InvalidOperationException(
                $"{method} produced a NaN score for {scores.Count(float.IsNaN)} of {scores.Length} rows (the first is row {nan + 1}); it cannot be evaluated.");
        return scores.Select(s => float.IsPositiveInfinity(s) ? float.MaxValue : s).ToArray();
    }

    /// <summary>The <paramref name="q"/> quantile by the nearest-rank rule: at least a fraction q of the values are &lt;= it.</summary>
    internal static float Quantile(float[] values, double q)
    {
        var sorted = (float[])values.Clone();
        Array.Sort(sorted);
        int rank = (int)Math.Ceiling(q * sorted.Length);
        return sorted[Math.Clamp(rank - 1, 0, sorted.Length - 1)];
    }

    private sealed class ScoredRow
    {
        public float Label { get; set; }
        public float Score { get; set; }
        public bool PredictedLabel { get; set; }
    }
}
