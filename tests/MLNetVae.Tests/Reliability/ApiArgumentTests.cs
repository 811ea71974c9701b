namespace MLNetVae.Tests.Reliability;

/// <summary>Arguments of the transformer's file and generation methods that cannot work get a clear error before any work.</summary>
[Collection(ReliabilityCollection.Name)]
public sealed class ApiArgumentTests(NewsModel news) : IDisposable
{
    private readonly string folder = Directory.CreateTempSubdirectory("mlnetvae-api-args-").FullName;

    public void Dispose() => Directory.Delete(folder, recursive: true);

    [Fact]
    public void ExportOnnxToAnExistingDirectoryOrAPathEndingInASeparatorSaysSo()
    {
        string decoder = Path.Combine(folder, "decoder.onnx");
        var directory = Assert.Throws<IOException>(() => news.Model.ExportOnnx(folder, decoder));
        Assert.Contains($"'{folder}' is an existing directory", directory.Message);
        Assert.Contains("encoder.onnx", directory.Message);
        // overwrite: true does not turn a directory into a file either.
        Assert.Throws<IOException>(() => news.Model.ExportOnnx(folder, decoder, overwrite: true));

        string slash = Path.Combine(folder, "not-yet") + Path.DirectorySeparatorChar;
        var separator = Assert.Throws<ArgumentException>(() => news.Model.ExportOnnx(slash, decoder));
        Assert.Contains("ends with a directory separator", separator.Message);
        Assert.Empty(Directory.GetFileSystemEntries(folder));
    }

    [Fact]
    public void SampleAndInterpolateCountsWhoseRowsOverflowAnArrayNameTheParameter()
    {
        var sample = Assert.Throws<ArgumentOutOfRangeException>(() => news.Model.Sample(int.MaxValue, seed: 1));
        Assert.Equal("count", sample.ParamName);
        Assert.Contains("exceed the largest array", sample.Message);

        var row = new float[news.Model.InputDim];
        var steps = Assert.Throws<ArgumentOutOfRangeException>(() => news.Model.Interpolate(row, row, int.MaxValue));
        Assert.Equal("steps", steps.ParamName);

        // The largest count the message allows is not refused by this check.
        Assert.Equal(3, news.Model.Sample(3, seed: 1).Length);
    }
}
