using Microsoft.ML;
using Microsoft.ML.Data;
using MLNetVae.Tests.TestSupport;
using Xunit.Abstractions;

namespace MLNetVae.Tests.AnomalyDetection;

/// <summary>
/// Image-like data, where border pixels are almost always 0 (ODDS optdigits, shipped, on a 16x16 canvas whose 4-pixel
/// border is 0 except for rare specks, pixels 0-255): such near-constant features must not dominate the default
/// detector's score. Anomalies are digits turned by 90 degrees. The default detector scores every row finitely, keeps
/// its training scores in a sane range, flags about Contamination of new rows, and ranks at least as well as the same
/// detector without standardization.
/// </summary>
public sealed class ImageLikeDataTests(ITestOutputHelper output)
{
    private const int Border = 4, Side = 8 + 2 * Border;

    private static string OptdigitsCsv => Path.Combine(AppContext.BaseDirectory, "TestData", "odds", "optdigits.csv");

    /// <summary>Normal digits of optdigits on the canvas, 5% of them turned by 90 degrees (label 1); specks in the border at <paramref name="speckRate"/>.</summary>
    internal static (float[][] Images, bool[] Anomalous) Canvases(double speckRate, int seed)
    {
        var ml = new MLContext(seed: 1);
        var raw = TestData.LoadLabelledCsv(ml, OptdigitsCsv);
        var labels = TestData.ReadScalars(raw, "Label");
        var digits = TestData.ReadVectors(raw, "Features").Where((_, i) => labels[i] == 0).ToArray();
        var random = new Random(seed);
        var images = new float[digits.Length][];
        var anomalous = new bool[digits.Length];
        for (int n = 0; n < digits.Length; n++)
        {
            anomalous[n] = random.NextDouble() < 0.05;
            var image = new float[Side * Side];
            for (int r = 0; r < Side; r++)
                for (int c = 0; c < Side; c++)
                {
                    int dr = r - Border, dc = c - Border;
                    bool inside = dr is >= 0 and < 8 && dc is >= 0 and < 8;
                    image[r * Side + c] = inside
                        ? 16f * (anomalous[n] ? digits[n][dc * 8 + (7 - dr)] : digits[n][dr * 8 + dc])
                        : random.NextDouble() < speckRate ? random.Next(1, 256) : 0f;
                }
            images[n] = image;
        }
        return (images, anomalous);
    }

    public sealed class Row
    {
        public float Label { get; set; }
        [VectorType(Side * Side)] public float[] Features { get; set; } = [];
    }

    [Fact]
    public void NearConstantBorderPixelsDoNotDominateTheDefaultDetector()
    {
        var ml = new MLContext(seed: 1);
        var (images, anomalous) = Canvases(speckRate: 0.002, seed: 1);
        var all = ml.Data.LoadFromEnumerable(images.Select((x, i) => new Row { Label = anomalous[i] ? 1 : 0, Features = x }).ToList());
        var split = ml.Data.TrainTestSplit(ml.Data.Cache(all), testFraction: 0.4, seed: 1);

        using var detector = ml.AnomalyDetection.Trainers.VariationalAutoencoder(new VaeAnomalyOptions { Seed = 1, NumberOfThreads = 1 }).Fit(split.TrainSet);
        using var unstandardized = ml.AnomalyDetection.Trainers.VariationalAutoencoder(new VaeAnomalyOptions { Seed = 1, NumberOfThreads = 1, Standardize = false }).Fit(split.TrainSet);

        var scored = detector.Transform(split.TestSet);
        var scores = TestData.ReadScalars(scored, "Score");
        double auc = ml.AnomalyDetection.Evaluate(scored).AreaUnderRocCurve;
        double aucUnstandardized = ml.AnomalyDetection.Evaluate(unstandardized.Transform(split.TestSet)).AreaUnderRocCurve;
        var training = detector.TrainingScores;
        float median = training[training.Count / 2];
        double flagged = scores.Count(s => s > detector.Threshold) / (double)scores.Length;
        output.WriteLine($"AUC {auc:F3} (Standardize = false: {aucUnstandardized:F3}); training scores median {median:G4}, max {training[^1]:G4}; " +
                         $"threshold {detector.Threshold:G4}; {flagged:P1} of new rows flagged");

        Assert.All(scores, s => Assert.True(float.IsFinite(s), $"score {s}"));
        Assert.True(training[^1] < 1000 * median, $"training scores range from median {median} to {training[^1]}");
        Assert.InRange(flagged, 0.025, 0.15); // Contamination 0.05; new rows score a little higher than training rows
        Assert.True(auc >= aucUnstandardized - 0.01, $"AUC {auc:F3} standardized, {aucUnstandardized:F3} without");
        Assert.True(auc > 0.8, $"AUC {auc:F3}: turned digits should be easy to find");

        // The same detector with the border pixels scaled by their standard deviation (the featurizer's standardization):
        // the specks dominate (measured: AUC 0.76, training scores up to 200 times their median, 9% of new rows flagged).
        using var byStd = ml.AnomalyDetection.Trainers.VariationalAutoencoder(new VaeAnomalyOptions
        {
            Seed = 1, NumberOfThreads = 1, ScaleNearConstantFeaturesByExcursions = false,
        }).Fit(split.TrainSet);
        double aucByStd = ml.AnomalyDetection.Evaluate(byStd.Transform(split.TestSet)).AreaUnderRocCurve;
        output.WriteLine($"scaled by standard deviation: AUC {aucByStd:F3}, training scores max/median {byStd.TrainingScores[^1] / byStd.TrainingScores[byStd.TrainingScores.Count / 2]:G3}");
        Assert.True(auc > aucByStd + 0.1, $"excursion scaling {auc:F3}, standard deviation {aucByStd:F3}");
    }
}
