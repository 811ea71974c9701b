using Microsoft.ML;
using MLNetVae.Data;
using MLNetVae.Tests.TestSupport;

namespace MLNetVae.Tests.AnomalyDetection;

/// <summary>
/// <see cref="VaeAnomalyOptions.CalibrationFraction"/>: rows held out of training so that the contamination threshold
/// is a quantile of scores of rows the model has not seen.
/// </summary>
public class CalibrationFractionTests
{
    private static float[] Positions(IDataView view) => TestData.ReadVectors(view, "Features").Select(r => r[0]).ToArray();

    [Fact]
    public void TheSplitIsDisjointCompleteInOrderAndSeeded()
    {
        var ml = new MLContext(seed: 1);
        // Row i holds i, so a row read back tells its position.
        var data = TestData.FromArrays(ml, Enumerable.Range(0, 1000).Select(i => new[] { (float)i, 0f }).ToArray());

        var (kept, heldOut) = RowSubset.Split(data, 0.25, seed: 5);
        var keptRows = Positions(kept);
        var heldRows = Positions(heldOut);

        Assert.Empty(keptRows.Intersect(heldRows));
        Assert.Equal(Enumerable.Range(0, 1000).Select(i => (float)i), keptRows.Concat(heldRows).Order());
        Assert.Equal(keptRows.Order(), keptRows);   // source order
        Assert.Equal(heldRows.Order(), heldRows);
        Assert.InRange(heldRows.Length, 200, 300);  // binomial(1000, 0.25): 250 ± 3.7 sd
        Assert.Equal(heldRows.Length, Enumerable.Range(0, 1000).Count(p => RowSubset.IsHeldOut(p, 0.25, seed: 5)));
        // Every pass agrees with the first, another seed draws other rows.
        Assert.Equal(heldRows, Positions(RowSubset.Split(data, 0.25, seed: 5).HeldOut));
        Assert.NotEqual(heldRows, Positions(RowSubset.Split(data, 0.25, seed: 6).HeldOut));
    }

    private static VaeAnomalyOptions Small(double calibrationFraction) => new()
    {
        HiddenDim = 32, LatentDim = 4, Epochs = 3, BatchSize = 64, NumberOfThreads = 1, Seed = 2,
        CalibrationFraction = calibrationFraction,
    };

    [Fact]
    public void TheThresholdIsTheQuantileOfTheHeldOutRowsScoresAndTheModelNeverSawThem()
    {
        var ml = new MLContext(seed: 1);
        var data = ml.Data.Cache(TestData.LoadLabelledCsv(ml, TestData.NewsEmbeddingsCsv));
        using var detector = ml.AnomalyDetection.Trainers.VariationalAutoencoder(Small(0.25)).Fit(data);

        var (kept, heldOut) = RowSubset.Split(data, 0.25, seed: 2);
        var heldScores = TestData.ReadScalars(detector.Transform(heldOut), "Score").Order().ToArray();
        var keptScores = TestData.ReadScalars(detector.Transform(kept), "Score").Order().ToArray();

        Assert.Equal(615, detector.TrainingScores.Count + detector.CalibrationScores.Count);
        Assert.Equal(heldScores, detector.CalibrationScores);
        Assert.Equal(keptScores, detector.TrainingScores);
        var report = detector.Vae.TrainingReport!;
        Assert.Equal(keptScores.Length, report.TrainingRows + report.ValidationRows); // the held-out rows did not train it
        Assert.Equal(VaeAnomalyTransformer.UpperQuantileThreshold(heldScores, 0.05), detector.Threshold);
        Assert.Equal(VaeAnomalyTransformer.UpperQuantileThreshold(heldScores, 0.2), detector.WithContamination(0.2).Threshold);
        Assert.True(detector.CalibrationScores.Count(s => s > detector.Threshold) <= 0.05 * heldScores.Length);
    }

    [Fact]
    public void WithoutCalibrationTheThresholdComesFromTheTrainingRows()
    {
        var ml = new MLContext(seed: 1);
        var data = ml.Data.Cache(TestData.LoadLabelledCsv(ml, TestData.NewsEmbeddingsCsv));
        using var detector = ml.AnomalyDetection.Trainers.VariationalAutoencoder(Small(0)).Fit(data);

        Assert.Equal(615, detector.TrainingScores.Count);
        Assert.Equal(detector.TrainingScores, detector.CalibrationScores);
        Assert.Equal(VaeAnomalyTransformer.UpperQuantileThreshold(detector.TrainingScores.ToArray(), 0.05), detector.Threshold);
    }

    [Fact]
    public void TooFewHeldOutRowsIsAClearErrorBeforeTraining()
    {
        var ml = new MLContext(seed: 1);
        var data = TestData.Random(ml, rows: 60, width: 4, seed: 3);
        var options = Small(0.2);
        var error = Assert.Throws<ArgumentException>(() => ml.AnomalyDetection.Trainers.VariationalAutoencoder(options).Fit(data));
        Assert.Contains("CalibrationFraction 0.2", error.Message);
        Assert.Contains("of the 60 rows", error.Message);
        Assert.Contains($"at least {VaeAnomalyOptions.Defaults.MinimumCalibrationRows}", error.Message);
        Assert.Contains("or 0", error.Message);
    }

    [Fact]
    public void HeldOutRowsLeftOutForNaNDoNotCountTowardsTheMinimum()
    {
        var ml = new MLContext(seed: 1);
        // 300 rows, 85% with a NaN: about 60 are held out, of which about 9 have a score. The count before training sees
        // 60 held-out rows; the threshold would come from 9 scores. The error says so instead.
        var random = new Random(4);
        var rows = Enumerable.Range(0, 300).Select(i => Enumerable.Range(0, 4).Select(_ => (float)random.NextDouble()).ToArray()).ToArray();
        foreach (var row in rows.Where((_, i) => i % 20 >= 3))
            row[1] = float.NaN;
        var options = Small(0.2);
        options.SkipNonFiniteRows = true;
        var error = Assert.Throws<ArgumentException>(() => ml.AnomalyDetection.Trainers.VariationalAutoencoder(options).Fit(TestData.FromArrays(ml, rows)));
        Assert.Contains("held-out rows have a score", error.Message);
        Assert.Contains("'Features'", error.Message);
        Assert.Contains($"at least {VaeAnomalyOptions.Defaults.MinimumCalibrationRows}", error.Message);

        // With an explicit threshold the held-out scores only describe the data; the detector is built.
        options.Threshold = 1e6f;
        using var detector = ml.AnomalyDetection.Trainers.VariationalAutoencoder(options).Fit(TestData.FromArrays(ml, rows));
        Assert.InRange(detector.CalibrationScores.Count, 1, VaeAnomalyOptions.Defaults.MinimumCalibrationRows - 1);
    }

    [Fact]
    public void EmptyDataIsTheNoRowsErrorWhateverTheCalibrationFraction()
    {
        var ml = new MLContext(seed: 1);
        var empty = TestData.FromArrays(ml, Array.Empty<float[]>(), width: 4);
        var error = Assert.Throws<ArgumentException>(() => ml.AnomalyDetection.Trainers.VariationalAutoencoder(Small(0.2)).Fit(empty));
        Assert.Contains("The training data has no rows", error.Message);
    }

    [Theory]
    [InlineData(-0.1)]
    [InlineData(1.0)]
    [InlineData(double.NaN)]
    public void AnOutOfRangeFractionIsRefusedByName(double fraction)
    {
        var error = Assert.Throws<ArgumentOutOfRangeException>(() => Small(fraction).Validate());
        Assert.Equal(nameof(VaeAnomalyOptions.CalibrationFraction), error.ParamName);
        Assert.Contains("[0, 1)", error.Message);
    }
}
