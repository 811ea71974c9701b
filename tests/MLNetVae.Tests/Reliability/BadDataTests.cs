using Microsoft.ML;
using Microsoft.ML.Runtime;
using MLNetVae.Scoring;
using MLNetVae.Tests.TestSupport;

namespace MLNetVae.Tests.Reliability;

/// <summary>
/// Bad values in the input column, in Fit and in scoring (Transform and PredictionEngine): NaN/±∞, huge values,
/// constant and all-zero features, one row, fewer rows than a batch, no rows.
/// </summary>
[Collection(ReliabilityCollection.Name)]
public class BadDataTests(NewsModel news)
{
    private static readonly MLContext Ml = new(seed: 1);

    [Fact]
    public void SkipNonFiniteRowsLeavesThemOutAndReportsHowMany()
    {
        var rows = Reliable.RandomRows(60, 8, seed: 4);
        rows[3][1] = float.NaN;
        rows[10][0] = float.PositiveInfinity;
        rows[59][7] = float.NegativeInfinity;
        var warnings = new List<string>();
        var ml = new MLContext(seed: 1);
        ml.Log += (_, e) => { if (e.Kind == ChannelMessageKind.Warning) lock (warnings) warnings.Add(e.Message); };
        var options = Reliable.Small(epochs: 2);
        options.SkipNonFiniteRows = true;

        using var model = ml.Transforms.VariationalAutoencoder(options).Fit(TestData.FromArrays(ml, rows));

        var report = model.TrainingReport!;
        Assert.Equal(3, report.SkippedNonFiniteRows);
        Assert.Equal(57, report.TrainingRows + report.ValidationRows);
        Assert.Contains(warnings, w => w.Contains("Skipped 3 of 60 rows") && w.Contains("row 3, 10, 59") && w.Contains("SkipNonFiniteRows"));

        // Exactly the model trained on the data without those rows (same seed, same rows in the same order).
        var clean = rows.Where((_, i) => i is not (3 or 10 or 59)).ToArray();
        using var reference = Ml.Transforms.VariationalAutoencoder(Reliable.Small(epochs: 2)).Fit(TestData.FromArrays(Ml, clean));
        Assert.Equal(Reliable.AllWeights(reference), Reliable.AllWeights(model));
        Assert.Equal(0, reference.TrainingReport!.SkippedNonFiniteRows);

        // The count travels with the saved model.
        var folder = Directory.CreateTempSubdirectory("mlnetvae-skip-");
        try
        {
            var path = Path.Combine(folder.FullName, "vae.zip");
            ml.Model.Save(model, TestData.FromArrays(ml, clean).Schema, path);
            using var back = new MLContext().Model.LoadVaeTransformer(path);
            Assert.Equal(3, back.TrainingReport!.SkippedNonFiniteRows);
            Assert.True(back.Options.SkipNonFiniteRows);
        }
        finally
        {
            folder.Delete(recursive: true);
        }
    }

    [Fact]
    public void TheDetectorWithSkipNonFiniteRowsSetsItsThresholdOnTheRowsWithAScore()
    {
        // 30 of 100 rows have a missing value. They are left out of training and score NaN; the contamination quantile
        // must count only the 70 scored rows (5% of 70: 3 flagged), not flag 5 of them as if all 100 had a score.
        var rows = Reliable.RandomRows(100, 6, seed: 5);
        for (int i = 0; i < 30; i++)
            rows[i * 3][i % 6] = float.NaN;
        var options = new VaeAnomalyOptions
        {
            HiddenDim = 16, LatentDim = 2, Epochs = 3, BatchSize = 32, NumberOfThreads = 1, Seed = 1, SkipNonFiniteRows = true,
            Contamination = 0.05,
        };
        var data = TestData.FromArrays(Ml, rows);
        using var detector = Ml.AnomalyDetection.Trainers.VariationalAutoencoder(options).Fit(data);

        Assert.Equal(70, detector.TrainingScores.Count);
        Assert.All(detector.TrainingScores, s => Assert.False(float.IsNaN(s)));
        var scores = TestData.ReadScalars(detector.Transform(data), "Score");
        Assert.Equal(30, scores.Count(float.IsNaN));
        Assert.Equal(3, scores.Count(s => s > detector.Threshold));
    }

    [Fact]
    public void SkipNonFiniteRowsWithNoFiniteRowLeftSaysSo()
    {
        var rows = Reliable.RandomRows(5, 4, seed: 1);
        foreach (var row in rows) row[2] = float.NaN;
        var options = Reliable.Small();
        options.SkipNonFiniteRows = true;
        var ex = Assert.Throws<ArgumentException>(() => Ml.Transforms.VariationalAutoencoder(options).Fit(TestData.FromArrays(Ml, rows)));
        Assert.Contains("no rows with finite values in column 'Features'", ex.Message);
        Assert.Contains("all 5 rows hold NaN or ∞", ex.Message);
        Assert.Contains("ReplaceMissingValues", ex.Message);
    }

    [Theory]
    [InlineData(float.NaN)]
    [InlineData(float.PositiveInfinity)]
    [InlineData(float.NegativeInfinity)]
    public void NonFiniteTrainingValuesAreRefusedByDefaultBeforeTraining(float value)
    {
        var rows = Reliable.RandomRows(30, 6, seed: 2);
        rows[17][4] = value;
        var epochs = 0;
        var options = Reliable.Small();
        options.Progress = new Reliable.SynchronousProgress<VaeEpochReport>(_ => epochs++);
        var ex = Assert.Throws<ArgumentException>(() => Ml.Transforms.VariationalAutoencoder(options).Fit(TestData.FromArrays(Ml, rows)));
        Assert.Contains($"Column 'Features' row 17 feature 4 is {value}", ex.Message);
        Assert.Contains("SkipNonFiniteRows", ex.Message);
        Assert.Contains("ReplaceMissingValues", ex.Message);
        Assert.Equal(0, epochs);
    }

    [Fact]
    public void PredictionEngineGivesNaNForANonFiniteRowAndTheNextRowIsUnaffected()
    {
        using var engine = news.Ml.Model.CreatePredictionEngine<NewsInput, NewsScore>(news.Model, new PredictionEngineOptions { OwnsTransformer = false });
        var finite = news.Rows[7];
        var expected = engine.Predict(new NewsInput { Features = finite });

        foreach (var bad in new[] { float.NaN, float.PositiveInfinity, float.NegativeInfinity })
        {
            var row = (float[])finite.Clone();
            row[100] = bad;
            var scored = engine.Predict(new NewsInput { Features = row });
            Assert.True(float.IsNaN(scored.ReconstructionError), $"{bad}: error {scored.ReconstructionError}");
            Assert.All(scored.Mu, v => Assert.True(float.IsNaN(v)));
            Assert.All(scored.Reconstruction, v => Assert.True(float.IsNaN(v)));

            var after = engine.Predict(new NewsInput { Features = finite });
            Assert.Equal(expected.Mu, after.Mu);
            Assert.Equal(expected.ReconstructionError, after.ReconstructionError);
        }
        Assert.True(float.IsFinite(expected.ReconstructionError));
    }

    [Theory]
    [InlineData(1e20f)]
    [InlineData(1e30f)]
    [InlineData(3e38f)]
    public void HugeValuesWithStandardizationAreRefusedBeforeTraining(float scale)
    {
        // Standardized, such data trains to finite weights, but every ReconstructionError (an MSE in the original
        // scale, float32) would be +∞: before this check Fit returned that model silently.
        var epochs = 0;
        var options = Reliable.Small();
        options.Progress = new Reliable.SynchronousProgress<VaeEpochReport>(_ => epochs++);
        var data = TestData.FromArrays(Ml, Reliable.RandomRows(50, 6, seed: 3, scale));
        var ex = Assert.Throws<ArgumentException>(() => Ml.Transforms.VariationalAutoencoder(options).Fit(data));
        Assert.Contains("Column 'Features' holds values too far apart", ex.Message);
        Assert.Contains("overflow float32", ex.Message);
        Assert.Contains("NormalizeMeanVariance", ex.Message);
        Assert.Equal(0, epochs);
    }

    [Fact]
    public void LargeValuesThatFloat32CanScoreTrainToFiniteScores()
    {
        var rows = Reliable.RandomRows(80, 6, seed: 3, scale: 1e15f);
        var data = TestData.FromArrays(Ml, rows);
        using var model = Ml.Transforms.VariationalAutoencoder(Reliable.Small(epochs: 2)).Fit(data);
        Assert.True(model.Weights.AllFinite());
        var scored = model.Transform(data);
        Assert.All(TestData.ReadScalars(scored, "ReconstructionError"), e => Assert.True(float.IsFinite(e) && e > 0, $"error {e}"));
        Assert.All(TestData.ReadVectors(scored, "Reconstruction").SelectMany(r => r), v => Assert.True(float.IsFinite(v)));
    }

    [Fact]
    public void AConstantFeatureTrainsAndScoresFiniteEvenForAnUnseenValue()
    {
        var rows = Reliable.RandomRows(60, 6, seed: 5);
        foreach (var row in rows) row[2] = 42f;
        using var model = Ml.Transforms.VariationalAutoencoder(Reliable.Small(epochs: 2)).Fit(TestData.FromArrays(Ml, rows));
        Assert.True(model.Weights.AllFinite());
        Assert.Equal(1f, model.Weights.Standardization!.Scale[2]);

        var unseen = (float[])rows[0].Clone();
        unseen[2] = 1000f;
        var errors = TestData.ReadScalars(model.Transform(TestData.FromArrays(Ml, new[] { rows[0], unseen })), "ReconstructionError");
        Assert.All(errors, e => Assert.True(float.IsFinite(e), $"error {e}"));
        Assert.True(errors[1] > errors[0], "an unseen value of the constant feature should reconstruct worse");
    }

    [Fact]
    public void AllZeroDataTrainsToAFiniteModel()
    {
        var zeros = Enumerable.Range(0, 40).Select(_ => new float[8]).ToArray();
        using var model = Ml.Transforms.VariationalAutoencoder(Reliable.Small(epochs: 3)).Fit(TestData.FromArrays(Ml, zeros));
        Assert.True(model.Weights.AllFinite());
        Assert.All(model.TrainingReport!.Epochs, e => Assert.True(double.IsFinite(e.TrainLoss)));
        var scored = model.Transform(TestData.FromArrays(Ml, zeros.Take(3).Concat(Reliable.RandomRows(3, 8, seed: 1)).ToArray()));
        Assert.All(TestData.ReadScalars(scored, "ReconstructionError"), e => Assert.True(float.IsFinite(e)));
        Assert.All(TestData.ReadVectors(scored, "Mu").SelectMany(r => r), v => Assert.True(float.IsFinite(v)));
    }

    [Fact]
    public void ASingleRowTrainsWithoutValidation()
    {
        var row = Reliable.RandomRows(1, 6, seed: 8);
        using var model = Ml.Transforms.VariationalAutoencoder(Reliable.Small(epochs: 3)).Fit(TestData.FromArrays(Ml, row));
        var report = model.TrainingReport!;
        Assert.Equal((1, 0, 3), (report.TrainingRows, report.ValidationRows, report.Epochs.Count));
        Assert.All(report.Epochs, e => Assert.Null(e.ValidationLoss));
        Assert.True(model.Weights.AllFinite());
        Assert.True(float.IsFinite(TestData.ReadScalars(model.Transform(TestData.FromArrays(Ml, row)), "ReconstructionError").Single()));
    }

    [Fact]
    public void FewerRowsThanTheBatchSizeTrainInOneBatchPerEpoch()
    {
        var rows = Reliable.RandomRows(10, 6, seed: 9);
        var options = Reliable.Small(epochs: 3);
        options.BatchSize = 256;
        using var model = Ml.Transforms.VariationalAutoencoder(options).Fit(TestData.FromArrays(Ml, rows));
        var report = model.TrainingReport!;
        Assert.Equal((9, 1, 3), (report.TrainingRows, report.ValidationRows, report.Epochs.Count));
        Assert.All(report.Epochs, e => Assert.True(double.IsFinite(e.TrainLoss) && double.IsFinite(e.ValidationLoss!.Value)));
        Assert.True(model.Weights.AllFinite());
    }

    [Fact]
    public void AnEmptyDataViewScoresToNoRowsWithoutRunningTheModel()
    {
        long encoderRuns = VaeOnnxScorer.EncoderRuns;
        var scored = news.Model.Transform(Reliable.Empty(news.Ml, NewsModel.Width));
        Assert.Empty(TestData.ReadScalars(scored, "ReconstructionError"));
        Assert.Empty(TestData.ReadVectors(scored, "Mu"));
        Assert.Equal(encoderRuns, VaeOnnxScorer.EncoderRuns);
    }
}
