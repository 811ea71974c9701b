using System.Numerics.Tensors;
using System.Text;
using Microsoft.ML;
using Microsoft.ML.Data;

namespace MLNetVae.Evaluation;

/// <summary>
/// <c>--precision</c>: int8 against float32 scoring of the very detector each split trained (<c>WithScoringPrecision</c>),
/// so the difference is the quantization alone: ROC-AUC of the detector's default score and of the VAE's reconstruction
/// error at both precisions, and the cosine similarity of Mu, on the test split.
/// </summary>
public static class PrecisionComparison
{
    /// <summary>What one split measured.</summary>
    public sealed record Split(double ScoreAuc32, double ScoreAuc8, double ErrorAuc32, double ErrorAuc8, double MuCosine);

    public static Split Measure(MLContext ml, VaeAnomalyTransformer detector, IDataView test, bool[] anomaly)
    {
        using var int8 = detector.WithScoringPrecision(VaeScoringPrecision.Int8);
        double score32 = Auc(ml, Read(detector.Transform(test), "Score"), anomaly);
        double score8 = Auc(ml, Read(int8.Transform(test), "Score"), anomaly);
        var f32 = detector.Vae.Transform(test);
        var i8 = int8.Vae.Transform(test);
        double error32 = Auc(ml, Read(f32, "ReconstructionError"), anomaly);
        double error8 = Auc(ml, Read(i8, "ReconstructionError"), anomaly);
        var mu32 = f32.GetColumn<VBuffer<float>>("Mu").Select(v => v.DenseValues().ToArray()).ToArray();
        var mu8 = i8.GetColumn<VBuffer<float>>("Mu").Select(v => v.DenseValues().ToArray()).ToArray();
        double cosine = mu32.Zip(mu8, (a, b) => (double)TensorPrimitives.CosineSimilarity<float>(a, b)).Average();
        return new Split(score32, score8, error32, error8, cosine);
    }

    public static string Table(IReadOnlyList<SetResult> results)
    {
        var sb = new StringBuilder();
        sb.AppendLine("| set | d | hidden/latent | score AUC float32 | score AUC int8 | Δ | reconstruction-error AUC float32 | int8 | Δ | Mu cosine (mean) |");
        sb.AppendLine("| --- | ---: | --- | --- | --- | ---: | --- | --- | ---: | ---: |");
        foreach (var r in results.Where(r => r.Precision is { Count: > 0 }))
        {
            var p = r.Precision!;
            var (s32, s8) = (Stat.Of(p.Select(x => x.ScoreAuc32).ToList()), Stat.Of(p.Select(x => x.ScoreAuc8).ToList()));
            var (e32, e8) = (Stat.Of(p.Select(x => x.ErrorAuc32).ToList()), Stat.Of(p.Select(x => x.ErrorAuc8).ToList()));
            sb.AppendLine($"| {r.Name} | {r.Dimensions} | {r.HiddenDim}/{r.LatentDim} | {s32.Format()} | {s8.Format()} | {Delta(s8.Mean - s32.Mean)} | " +
                          $"{e32.Format()} | {e8.Format()} | {Delta(e8.Mean - e32.Mean)} | {p.Average(x => x.MuCosine):F5} |");
        }
        return sb.ToString();
    }

    public static string Summary(IReadOnlyList<SetResult> results)
    {
        var splits = results.Where(r => r.Precision is not null).SelectMany(r => r.Precision!.Select(s => (r.Name, s))).ToList();
        if (splits.Count == 0)
            return "";
        var perSet = results.Where(r => r.Precision is { Count: > 0 }).Select(r => (r.Name,
            Score: r.Precision!.Average(x => x.ScoreAuc8 - x.ScoreAuc32), Error: r.Precision!.Average(x => x.ErrorAuc8 - x.ErrorAuc32),
            Cosine: r.Precision!.Average(x => x.MuCosine))).ToList();
        var worstScore = perSet.MaxBy(s => Math.Abs(s.Score));
        var worstError = perSet.MaxBy(s => Math.Abs(s.Error));
        var worstCosine = perSet.MinBy(s => s.Cosine);
        return $"Int8 against float32 on the same models ({splits.Count} splits): largest mean |Δ ROC-AUC| of a set — detector score " +
               $"{Delta(worstScore.Score)} ({worstScore.Name}), reconstruction error {Delta(worstError.Error)} ({worstError.Name}); " +
               $"sets with |Δ| ≥ 0.005: score {perSet.Count(s => Math.Abs(s.Score) >= 0.005)}, reconstruction error {perSet.Count(s => Math.Abs(s.Error) >= 0.005)} of {perSet.Count}; " +
               $"Mu cosine mean over sets {perSet.Average(s => s.Cosine):F5}, lowest {worstCosine.Cosine:F5} ({worstCosine.Name}).";
    }

    /// <summary>A signed difference to 4 decimals; one that rounds to zero prints as +0.0000, never -+0.0000.</summary>
    private static string Delta(double value) => (Math.Round(value, 4) + 0.0).ToString("+0.0000;-0.0000;+0.0000", System.Globalization.CultureInfo.InvariantCulture);

    private static float[] Read(IDataView scored, string column) => scored.GetColumn<float>(column).ToArray();

    private static double Auc(MLContext ml, float[] scores, bool[] anomaly) =>
        ml.AnomalyDetection.Evaluate(Rows.ScoredDataView(ml, scores, anomaly)).AreaUnderRocCurve;
}
