using Microsoft.ML;
using Microsoft.ML.Data;
using MLNetVae.Tests.TestSupport;

namespace MLNetVae.Tests.Scoring;

/// <summary>The VAE inside ML.NET pipelines: before trainers, with caching, and through a PredictionEngine.</summary>
public class PipelineTests
{
    public sealed class Input
    {
        public float Label { get; set; }
        [VectorType(768)] public float[] Features { get; set; } = Array.Empty<float>();
    }

    public sealed class Prediction
    {
        public uint PredictedLabel { get; set; }
        public float[] Score { get; set; } = Array.Empty<float>();
    }

    [Fact]
    public void NormalizeThenVaeThenSdcaOnMuTrainsAndPredicts()
    {
        var ml = new MLContext(seed: 1);
        var data = ml.Data.Cache(TestData.LoadLabelledCsv(ml, TestData.NewsEmbeddingsCsv));
        var split = ml.Data.TrainTestSplit(data, testFraction: 0.3, seed: 1);

        var pipeline = ml.Transforms.Conversion.MapValueToKey("LabelKey", "Label")
            .Append(ml.Transforms.NormalizeMeanVariance("Features"))
            .Append(ml.Transforms.VariationalAutoencoder(new VaeOptions { HiddenDim = 64, LatentDim = 8, Epochs = 10, BatchSize = 64, NumberOfThreads = 2, Seed = 1 }))
            .AppendCacheCheckpoint(ml)
            .Append(ml.MulticlassClassification.Trainers.SdcaMaximumEntropy(labelColumnName: "LabelKey", featureColumnName: "Mu", maximumNumberOfIterations: 20));
        var model = pipeline.Fit(split.TrainSet);

        var scored = model.Transform(split.TestSet);
        var metrics = ml.MulticlassClassification.Evaluate(scored, labelColumnName: "LabelKey");
        Assert.InRange(metrics.MicroAccuracy, 0.5, 1.0);
        Assert.True(double.IsFinite(metrics.LogLoss));

        // The same model through a PredictionEngine agrees with Transform on the test rows.
        var expected = ml.Data.CreateEnumerable<Prediction>(scored, reuseRowObject: false).ToList();
        var inputs = ml.Data.CreateEnumerable<Input>(split.TestSet, reuseRowObject: false).ToList();
        var engine = ml.Model.CreatePredictionEngine<Input, Prediction>(model);
        for (int i = 0; i < inputs.Count; i++)
        {
            var single = engine.Predict(inputs[i]);
            Assert.Equal(expected[i].PredictedLabel, single.PredictedLabel);
            Assert.Equal(expected[i].Score, single.Score, (a, b) => Math.Abs(a - b) <= 1e-5f);
        }
    }

    [Fact]
    public void AnomalyEvaluatorAcceptsTheReconstructionErrorAsScore()
    {
        var ml = new MLContext(seed: 1);
        var data = TestData.LoadLabelledCsv(ml, TestData.NewsEmbeddingsCsv);
        using var vae = ml.Transforms.VariationalAutoencoder(new VaeOptions { HiddenDim = 64, LatentDim = 8, Epochs = 20, BatchSize = 64, NumberOfThreads = 2, Seed = 1 }).Fit(data);
        var scored = ml.Transforms.CopyColumns("Score", "ReconstructionError")
            .Append(ml.Transforms.CustomMapping<ScoreRow, PredictedRow>((s, p) => p.PredictedLabel = s.Score > 1e9f, contractName: null))
            .Fit(vae.Transform(data)).Transform(vae.Transform(data));
        var metrics = ml.AnomalyDetection.Evaluate(scored);
        // 30 off-topic posts among 615: a working detector ranks them well above chance.
        Assert.InRange(metrics.AreaUnderRocCurve, 0.6, 1.0);
    }

    public sealed class ScoreRow { public float Score { get; set; } }

    public sealed class PredictedRow { public bool PredictedLabel { get; set; } }
}
