using Microsoft.ML;
using MLNetVae.Cli.Infrastructure;
using MLNetVae.Cli.Modeling;
using MLNetVae.Tests.TestSupport;

namespace MLNetVae.Tests.Cli;

/// <summary>The rows <c>mlnetvae train</c> holds out of training to set the anomaly threshold on.</summary>
public class CalibrationSplitTests
{
    private static (MLContext Ml, float[][] Rows, IDataView View) Data(int count)
    {
        var ml = new MLContext(seed: 1);
        // Row i holds i in every feature, so a row read back tells its position in the file.
        var rows = Enumerable.Range(0, count).Select(i => Enumerable.Repeat((float)i, 3).ToArray()).ToArray();
        return (ml, rows, TestData.FromArrays(ml, rows));
    }

    private static int[] Positions(IDataView view) => TestData.ReadVectors(view, "Features").Select(r => (int)r[0]).ToArray();

    [Fact]
    public void HoldsOutTheGivenShareOfRowsAtRandomWithoutOverlap()
    {
        var (ml, _, view) = Data(300);
        var split = CalibrationSplit.Create(ml, view, 0.2, seed: 3, CancellationToken.None);

        Assert.True(split.HoldsOut);
        Assert.Equal(60, split.CalibrationRows.Length);
        Assert.Equal(240, split.TrainingRows.Length);
        Assert.Empty(split.CalibrationRows.Intersect(split.TrainingRows));
        Assert.Equal(Enumerable.Range(0, 300), split.CalibrationRows.Concat(split.TrainingRows).Order());
        // The views hold exactly those rows, in file order.
        Assert.Equal(split.CalibrationRows, Positions(split.Calibration));
        Assert.Equal(split.TrainingRows, Positions(split.Training));
        // Random, not a block of the file: held-out rows come from both halves.
        Assert.Contains(split.CalibrationRows, r => r < 150);
        Assert.Contains(split.CalibrationRows, r => r >= 150);
    }

    [Fact]
    public void TheSameSeedGivesTheSameSplitAndAnotherSeedAnother()
    {
        var (ml, _, view) = Data(200);
        var a = CalibrationSplit.Create(ml, view, 0.25, seed: 7, CancellationToken.None);
        var b = CalibrationSplit.Create(ml, view, 0.25, seed: 7, CancellationToken.None);
        var c = CalibrationSplit.Create(ml, view, 0.25, seed: 8, CancellationToken.None);
        Assert.Equal(a.CalibrationRows, b.CalibrationRows);
        Assert.NotEqual(a.CalibrationRows, c.CalibrationRows);
    }

    [Fact]
    public void FractionZeroCalibratesOnTheTrainingRows()
    {
        var (ml, _, view) = Data(50);
        var split = CalibrationSplit.Create(ml, view, 0, seed: 1, CancellationToken.None);
        Assert.False(split.HoldsOut);
        Assert.Same(view, split.Training);
        Assert.Same(view, split.Calibration);
        Assert.Equal(Enumerable.Range(0, 50), split.TrainingRows);
    }

    [Theory]
    [InlineData(60, 0.2)]   // 12 held out
    [InlineData(100, 0.9)]  // 10 left to train on
    public void TooFewRowsOnEitherSideIsAClearErrorWithTheWayOut(int rows, double fraction)
    {
        var (ml, _, view) = Data(rows);
        var error = Assert.Throws<CliException>(() => CalibrationSplit.Create(ml, view, fraction, seed: 1, CancellationToken.None));
        Assert.Contains($"of {rows} rows", error.Message);
        Assert.Contains($"at least {CalibrationSplit.MinimumCalibrationRows}", error.Message);
        Assert.Contains("--calibration-fraction 0", error.Hint);
    }
}
