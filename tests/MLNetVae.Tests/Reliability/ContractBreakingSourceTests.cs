using Microsoft.ML;
using MLNetVae.Tests.TestSupport;

namespace MLNetVae.Tests.Reliability;

/// <summary>
/// Sources that break the IDataView contract: a row count they do not deliver, vectors of another length than the
/// schema declares. Passes over the data trust the cursor, and a wrong length is an error naming the column.
/// </summary>
public sealed class ContractBreakingSourceTests
{
    private static VaeAnomalyOptions Small => new()
    {
        HiddenDim = 16, LatentDim = 3, Epochs = 2, NumberOfThreads = 1, Seed = 1, CalibrationFraction = 0.25,
    };

    [Fact]
    public void ADetectorFitsASourceThatReportsLongMaxValueRowsByCountingThroughTheCursor()
    {
        var ml = new MLContext(seed: 1);
        var data = TestData.Random(ml, rows: 400, width: 6, seed: 2);
        var honest = ml.AnomalyDetection.Trainers.VariationalAutoencoder(Small).Fit(data);
        var lying = ml.AnomalyDetection.Trainers.VariationalAutoencoder(Small).Fit(new RowCountOverride(data, long.MaxValue));

        // Same rows on each side of the hold-out split, so the same model and calibration scores.
        Assert.Equal(honest.CalibrationScores, lying.CalibrationScores);
        Assert.Equal(honest.TrainingScores, lying.TrainingScores);
        Assert.InRange(lying.CalibrationScores.Count, 60, 140); // binomial(400, 0.25)
    }

    [Fact]
    public void CancellationIsHonouredWhileCountingRows()
    {
        var ml = new MLContext(seed: 1);
        using var cancelled = new CancellationTokenSource();
        cancelled.Cancel();
        var options = Small;
        options.CancellationToken = cancelled.Token;
        var data = new RowCountOverride(TestData.Random(ml, rows: 400, width: 6, seed: 2), long.MaxValue);
        Assert.ThrowsAny<OperationCanceledException>(() => ml.AnomalyDetection.Trainers.VariationalAutoencoder(options).Fit(data));
    }

    [Theory]
    [InlineData(-1)]
    [InlineData(2)]
    public void AVectorOfTheWrongLengthFromACursorIsAnErrorNamingTheColumnAndBothLengths(int lengthChange)
    {
        var ml = new MLContext(seed: 1);
        var data = TestData.Random(ml, rows: 300, width: 6, seed: 2);
        using var vae = ml.Transforms.VariationalAutoencoder(new VaeOptions { HiddenDim = 16, LatentDim = 3, Epochs = 1, NumberOfThreads = 1, Seed = 1 }).Fit(data);
        using var detector = ml.AnomalyDetection.Trainers.VariationalAutoencoder(Small).Fit(data);
        var broken = new WrongLengthVectors(data, "Features", lengthChange, fromRow: 5);

        foreach (var (scored, column) in new[] { (vae.Transform(broken), "ReconstructionError"), (detector.Transform(broken), "Score") })
        {
            var error = Assert.Throws<InvalidOperationException>(() => TestData.ReadScalars(scored, column));
            Assert.Contains("'Features'", error.Message);
            Assert.Contains("row 5", error.Message);
            Assert.Contains($"has {6 + lengthChange} values", error.Message);
            Assert.Contains("say 6", error.Message);
        }

        // One row at a time (PredictionEngine's path) checks the same.
        var mapper = detector.GetRowToRowMapper(broken.Schema);
        using var cursor = broken.GetRowCursor(broken.Schema);
        using var row = mapper.GetRow(cursor, mapper.OutputSchema);
        var score = row.GetGetter<float>(mapper.OutputSchema["Score"]);
        float value = 0;
        for (int i = 0; i < 5; i++)
        {
            Assert.True(cursor.MoveNext());
            score(ref value);
            Assert.True(float.IsFinite(value));
        }
        Assert.True(cursor.MoveNext());
        var single = Assert.Throws<InvalidOperationException>(() => score(ref value));
        Assert.Contains("'Features' row 5", single.Message);
    }
}
