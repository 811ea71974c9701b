using Microsoft.ML;
using MLNetVae.Tests.TestSupport;

namespace MLNetVae.Tests.Generation;

/// <summary>Sample, Interpolate and Reconstruct on a model trained on the shipped BERT embeddings (standardized inside the model).</summary>
public class GenerationTests : IClassFixture<GenerationTests.Trained>
{
    public sealed class Trained : IDisposable
    {
        public Trained()
        {
            Ml = new MLContext(seed: 2);
            Data = Ml.Data.Cache(TestData.LoadLabelledCsv(Ml, TestData.NewsEmbeddingsCsv));
            Rows = TestData.ReadVectors(Data, "Features");
            Model = Ml.Transforms.VariationalAutoencoder(new VaeOptions
            {
                HiddenDim = 64, LatentDim = 8, Epochs = 15, BatchSize = 64, NumberOfThreads = 1, Seed = 2, Beta = 1,
            }).Fit(Data);
        }

        public MLContext Ml { get; }
        public IDataView Data { get; }
        public float[][] Rows { get; }
        public VaeTransformer Model { get; }

        public void Dispose() => Model.Dispose();
    }

    private readonly Trained trained;

    public GenerationTests(Trained trained) => this.trained = trained;

    private VaeTransformer Model => trained.Model;

    [Fact]
    public void ReconstructEqualsTheReconstructionColumn()
    {
        var rows = trained.Rows.Take(100).ToArray();
        var reconstructed = Model.Reconstruct(rows);
        var column = TestData.ReadVectors(Model.Transform(trained.Data), "Reconstruction").Take(100).ToArray();
        Assert.Equal(100, reconstructed.Length);
        for (int i = 0; i < rows.Length; i++)
        {
            Assert.Equal(768, reconstructed[i].Length);
            Assert.Equal(column[i], reconstructed[i], (a, b) => Math.Abs(a - b) <= 1e-5f * Math.Max(1, Math.Abs(a)));
        }
        Assert.Empty(Model.Reconstruct(Array.Empty<float[]>()));
    }

    [Fact]
    public void SamplesHaveTheInputsShapeAndScaleAndFollowTheSeed()
    {
        var samples = Model.Sample(500, seed: 11);
        Assert.Equal(500, samples.Length);
        Assert.All(samples, s => Assert.Equal(768, s.Length));
        Assert.All(samples, s => Assert.All(s, v => Assert.True(float.IsFinite(v))));
        Assert.Equal(samples, Model.Sample(500, seed: 11));
        Assert.NotEqual(samples[0], Model.Sample(1, seed: 12)[0]);

        // In the original scale: per feature, the samples' mean sits within the data's spread around the data's mean,
        // and the overall spread is of the data's order (the data are not standardized; the model standardizes inside).
        var data = trained.Rows;
        double spreadRatio = 0;
        int meansWithinOneSd = 0;
        for (int j = 0; j < 768; j++)
        {
            var (dataMean, dataSd) = MeanSd(data.Select(r => (double)r[j]));
            var (sampleMean, sampleSd) = MeanSd(samples.Select(r => (double)r[j]));
            if (Math.Abs(sampleMean - dataMean) <= dataSd)
                meansWithinOneSd++;
            spreadRatio += sampleSd / dataSd / 768;
        }
        Assert.True(meansWithinOneSd >= 0.95 * 768, $"{meansWithinOneSd} of 768 feature means within one data sd");
        Assert.InRange(spreadRatio, 0.2, 2.0);
    }

    [Fact]
    public void InterpolationRunsFromTheFirstRowsReconstructionToTheSeconds()
    {
        var a = trained.Rows[3];
        var b = trained.Rows[40];
        var path = Model.Interpolate(a, b, 5);
        Assert.Equal(5, path.Length);
        Assert.All(path, p => Assert.Equal(768, p.Length));

        var ends = Model.Reconstruct(new[] { a, b });
        Assert.Equal(ends[0], path[0], (x, y) => Math.Abs(x - y) <= 1e-5f * Math.Max(1, Math.Abs(x)));
        Assert.Equal(ends[1], path[4], (x, y) => Math.Abs(x - y) <= 1e-5f * Math.Max(1, Math.Abs(x)));

        // The middle is decoded from the midpoint of the latent means: it lies between the ends in latent space,
        // so it differs from both and stays closer to their average than either end is to the other.
        double Distance(float[] x, float[] y) => Math.Sqrt(x.Zip(y, (p, q) => (double)(p - q) * (p - q)).Sum());
        double ends2 = Distance(path[0], path[4]);
        Assert.True(ends2 > 0);
        Assert.True(Distance(path[2], path[0]) < ends2 && Distance(path[2], path[4]) < ends2,
            $"midpoint distances {Distance(path[2], path[0])}, {Distance(path[2], path[4])}; ends {ends2}");
        Assert.Equal(2, Model.Interpolate(a, b, 2).Length);
    }

    [Fact]
    public void BadInputsAreRejectedWithClearMessages()
    {
        var good = trained.Rows[0];
        var shortRow = new float[767];
        var nan = (float[])good.Clone();
        nan[5] = float.NaN;

        Assert.Contains("767 values; this model takes 768", Assert.Throws<ArgumentException>(() => Model.Reconstruct(new[] { good, shortRow })).Message);
        Assert.Contains("rows[1] has 767", Assert.Throws<ArgumentException>(() => Model.Reconstruct(new[] { good, shortRow })).Message);
        Assert.Contains("rows[0] feature 5 is NaN", Assert.Throws<ArgumentException>(() => Model.Reconstruct(new[] { nan })).Message);
        Assert.Contains("b feature 5 is NaN", Assert.Throws<ArgumentException>(() => Model.Interpolate(good, nan, 3)).Message);
        Assert.Throws<ArgumentNullException>(() => Model.Interpolate(null!, good, 3));
        Assert.Equal("steps", Assert.Throws<ArgumentOutOfRangeException>(() => Model.Interpolate(good, good, 1)).ParamName);
        Assert.Equal("count", Assert.Throws<ArgumentOutOfRangeException>(() => Model.Sample(0)).ParamName);
        Assert.Throws<ArgumentNullException>(() => Model.Reconstruct(null!));
    }

    private static (double Mean, double Sd) MeanSd(IEnumerable<double> values)
    {
        var list = values.ToList();
        double mean = list.Average();
        return (mean, Math.Sqrt(list.Average(v => (v - mean) * (v - mean))));
    }
}
