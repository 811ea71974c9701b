using Microsoft.ML;
using MLNetVae.Cli.Data;
using MLNetVae.Cli.Infrastructure;
using MLNetVae.Cli.Modeling;
using MLNetVae.Tests.TestSupport;

namespace MLNetVae.Tests.Cli;

/// <summary>The rows <c>mlnetvae train</c> holds out of training to set the anomaly threshold on.</summary>
public class CalibrationSplitTests
{
    /// <summary>Row i holds i in its features and the label i % 7 == 0, so a row read back tells its position and label.</summary>
    private static (MLContext Ml, TabularData Data) Data(int count)
    {
        var ml = new MLContext(seed: 1);
        var view = ml.Data.LoadFromEnumerable(Enumerable.Range(0, count).Select(i => new Row
        {
            Label = i % 7 == 0 ? 1f : 0f,
            Features = [i, i, i],
        }).ToList());
        var labels = Enumerable.Range(0, count).Select(i => i % 7 == 0 ? 1f : 0f).ToArray();
        return (ml, new TabularData("rows.csv", view, ["Features"], 3, "Label", labels, count));
    }

    private sealed class Row
    {
        public float Label { get; set; }
        [Microsoft.ML.Data.VectorType(3)] public float[] Features { get; set; } = [];
    }

    private static int[] Positions(IDataView view) => TestData.ReadVectors(view, "Features").Select(r => (int)r[0]).ToArray();

    [Fact]
    public void HoldsOutAboutTheGivenShareAtRandom_DisjointWithTheirOwnLabels()
    {
        var (ml, data) = Data(1000);
        var split = CalibrationSplit.Create(ml, data, data.Data, 0.2, seed: 3, CancellationToken.None);

        var held = Positions(split.Calibration);
        var kept = Positions(split.Training);
        Assert.True(split.HoldsOut);
        Assert.Equal(held.Length, split.CalibrationRowCount);
        Assert.Equal(kept.Length, split.TrainingRowCount);
        Assert.InRange(held.Length, 150, 250);  // about 20% of 1,000
        Assert.Empty(held.Intersect(kept));
        Assert.Equal(Enumerable.Range(0, 1000), held.Concat(kept).Order());
        Assert.Contains(held, r => r < 500);      // random, not a block of the file
        Assert.Contains(held, r => r >= 500);
        // The labels are those of the held-out rows, in the held-out view's order.
        Assert.Equal(held.Select(r => r % 7 == 0 ? 1f : 0f), split.CalibrationLabels!);
    }

    [Fact]
    public void TheSameSeedGivesTheSameSplitAndAnotherSeedAnother()
    {
        var (ml, data) = Data(300);
        var a = Positions(CalibrationSplit.Create(ml, data, data.Data, 0.25, seed: 7, CancellationToken.None).Calibration);
        var b = Positions(CalibrationSplit.Create(ml, data, data.Data, 0.25, seed: 7, CancellationToken.None).Calibration);
        var c = Positions(CalibrationSplit.Create(ml, data, data.Data, 0.25, seed: 8, CancellationToken.None).Calibration);
        Assert.Equal(a, b);
        Assert.NotEqual(a, c);
    }

    [Fact]
    public void FractionZeroCalibratesOnTheTrainingRows()
    {
        var (ml, data) = Data(50);
        var split = CalibrationSplit.Create(ml, data, data.Data, 0, seed: 1, CancellationToken.None);
        Assert.False(split.HoldsOut);
        Assert.Same(data.Data, split.Training);
        Assert.Same(data.Data, split.Calibration);
        Assert.Equal(50, split.TrainingRowCount);
        Assert.Same(data.Labels, split.CalibrationLabels);
    }

    [Theory]
    [InlineData(60, 0.2)]   // about 12 held out
    [InlineData(100, 0.9)]  // about 10 left to train on
    public void TooFewRowsOnEitherSideIsAClearErrorWithTheWayOut(int rows, double fraction)
    {
        var (ml, data) = Data(rows);
        var error = Assert.Throws<CliException>(() => CalibrationSplit.Create(ml, data, data.Data, fraction, seed: 1, CancellationToken.None));
        Assert.Contains($"of {rows} rows", error.Message);
        Assert.Contains($"at least {CalibrationSplit.MinimumCalibrationRows}", error.Message);
        Assert.Contains("--calibration-fraction 0", error.Hint);
    }
}
