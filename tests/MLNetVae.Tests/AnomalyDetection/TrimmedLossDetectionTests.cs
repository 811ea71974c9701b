using Microsoft.ML;
using Microsoft.ML.Data;
using MLNetVae.Tests.TestSupport;
using Xunit.Abstractions;

namespace MLNetVae.Tests.AnomalyDetection;

/// <summary>What the detector's trimmed loss is for: training rows that hold the anomalies the detector must flag.</summary>
public class TrimmedLossDetectionTests(ITestOutputHelper output)
{
    /// <summary>
    /// 1,800 normal rows near a 3-dimensional plane in 20 features, and 200 anomalies (10%) in one tight cluster off the
    /// plane: a pattern frequent enough that a VAE fitted to every row learns to reconstruct it.
    /// </summary>
    private static (float[][] Rows, bool[] IsAnomaly) ContaminatedData(int seed)
    {
        var random = new Random(seed);
        double Gaussian() => Math.Sqrt(-2 * Math.Log(1 - random.NextDouble())) * Math.Cos(2 * Math.PI * random.NextDouble());
        const int d = 20, k = 3, normals = 1_800, anomalies = 200;
        var basis = Enumerable.Range(0, k).Select(_ => Enumerable.Range(0, d).Select(_ => Gaussian()).ToArray()).ToArray();
        var clusterCentre = Enumerable.Range(0, d).Select(_ => 1.5 * Gaussian()).ToArray();
        var rows = new List<float[]>();
        var isAnomaly = new List<bool>();
        for (int i = 0; i < normals + anomalies; i++)
        {
            bool anomaly = i % 10 == 9; // spread through the file, so every batch holds some
            var codes = Enumerable.Range(0, k).Select(_ => Gaussian()).ToArray();
            rows.Add(Enumerable.Range(0, d).Select(j => (float)(anomaly
                ? clusterCentre[j] + 0.05 * Gaussian()
                : Enumerable.Range(0, k).Sum(c => codes[c] * basis[c][j]) + 0.1 * Gaussian())).ToArray());
            isAnomaly.Add(anomaly);
        }
        return (rows.ToArray(), isAnomaly.ToArray());
    }

    [Fact]
    public void TrimmingTheWorstRowsOfEachBatchKeepsAFrequentAnomalyPatternFromBeingLearned()
    {
        var ml = new MLContext(seed: 1);
        var (rows, isAnomaly) = ContaminatedData(seed: 5);
        var schema = SchemaDefinition.Create(typeof(TestData.LabelledRow));
        schema[nameof(TestData.LabelledRow.Features)].ColumnType = new VectorDataViewType(NumberDataViewType.Single, rows[0].Length);
        var data = ml.Data.Cache(ml.Data.LoadFromEnumerable(
            rows.Select((r, i) => new TestData.LabelledRow { Label = isAnomaly[i] ? 1f : 0f, Features = r }).ToList(), schema));
        double Auc(double trimmed)
        {
            using var detector = ml.AnomalyDetection.Trainers.VariationalAutoencoder(new VaeAnomalyOptions
            {
                NumberOfThreads = 1, Seed = 3, Epochs = 40, TrimmedLossFraction = trimmed,
            }).Fit(data);
            return ml.AnomalyDetection.Evaluate(detector.Transform(data)).AreaUnderRocCurve;
        }
        double untrimmed = Auc(0), trimmed = Auc(VaeAnomalyOptions.Defaults.TrimmedLossFraction);
        output.WriteLine($"ROC-AUC of the 10% clustered anomalies, scored on the training rows: untrimmed {untrimmed:F4}, trimmed {trimmed:F4}");
        Assert.True(trimmed > 0.95, $"trimmed {trimmed:F4}");
        Assert.True(trimmed > untrimmed + 0.05, $"untrimmed {untrimmed:F4}, trimmed {trimmed:F4}");
    }
}
