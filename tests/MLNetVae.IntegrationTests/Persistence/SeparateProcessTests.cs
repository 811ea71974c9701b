using System.Diagnostics;
using System.Globalization;
using Microsoft.ML;
using MLNetVae.Tests.TestSupport;

namespace MLNetVae.Tests.Persistence;

/// <summary>
/// A pipeline saved here is loaded and scored by another process (tests/MLNetVae.TestHost): the file alone must
/// carry the model. The fast path must reproduce this process's outputs bit for bit; ML.NET's own row-at-a-time
/// chain within float32 rounding.
/// </summary>
public class SeparateProcessTests : IDisposable
{
    private readonly DirectoryInfo folder = Directory.CreateTempSubdirectory("mlnetvae-process-");

    public void Dispose() => folder.Delete(recursive: true);

    [Fact]
    public void AFreshProcessLoadsTheSavedPipelineAndScoresTheSame()
    {
        var ml = new MLContext(seed: 1);
        var data = TestData.LoadLabelledCsv(ml, TestData.NewsEmbeddingsCsv);
        var pipeline = ml.Transforms.NormalizeMeanVariance("Features")
            .Append(ml.Transforms.VariationalAutoencoder(new VaeOptions
            {
                HiddenDim = 24, LatentDim = 4, Epochs = 2, BatchSize = 64, NumberOfThreads = 2, Seed = 4, MuColumnName = "Latent",
            }))
            .Fit(data);
        var modelPath = Path.Combine(folder.FullName, "model.zip");
        ml.Model.SaveSafely(pipeline, data.Schema, modelPath);

        var scored = pipeline.Transform(data);
        var expectedError = TestData.ReadScalars(scored, "ReconstructionError");
        var expectedLatent = TestData.ReadVectors(scored, "Latent");

        foreach (var mode in new[] { "fast", "plain" })
        {
            var output = Path.Combine(folder.FullName, $"{mode}.tsv");
            string said = RunHost(modelPath, TestData.NewsEmbeddingsCsv, output, mode);
            if (mode == "fast") // loading runs ML.NET's own ONNX sessions first; the VAE's must still share one pool
                Assert.Contains("global thread pool: True", said);
            var rows = File.ReadAllLines(output).Select(l => l.Split('\t').Select(v => float.Parse(v, CultureInfo.InvariantCulture)).ToArray()).ToArray();
            Assert.Equal(expectedError.Length, rows.Length);
            for (int i = 0; i < rows.Length; i++)
            {
                var expected = expectedLatent[i].Prepend(expectedError[i]).ToArray();
                if (mode == "fast")
                {
                    Assert.Equal(expected, rows[i]); // same execution path: bit-identical
                }
                else
                {
                    for (int j = 0; j < expected.Length; j++)
                        Assert.True(Math.Abs(expected[j] - rows[i][j]) <= 1e-5f * Math.Max(1, Math.Abs(expected[j])),
                            $"{mode} row {i} value {j}: {expected[j]:R} vs {rows[i][j]:R}");
                }
            }
        }
    }

    /// <summary>Runs the host and returns what it printed.</summary>
    private static string RunHost(string model, string csv, string output, string mode)
    {
        var host = HostDll();
        var start = new ProcessStartInfo("dotnet") { RedirectStandardOutput = true, RedirectStandardError = true };
        foreach (var argument in new[] { host, model, csv, output, mode })
            start.ArgumentList.Add(argument);
        using var process = Process.Start(start)!;
        var stdout = process.StandardOutput.ReadToEndAsync();
        var stderr = process.StandardError.ReadToEndAsync();
        Assert.True(process.WaitForExit(TimeSpan.FromMinutes(3)), "the test host did not finish in 3 minutes");
        Assert.True(process.ExitCode == 0, $"test host ({mode}) exited {process.ExitCode}:\n{stdout.Result}\n{stderr.Result}");
        return stdout.Result;
    }

    /// <summary>The TestHost is built by the test project's reference, in the same configuration as the tests.</summary>
    private static string HostDll()
    {
        var configuration = new DirectoryInfo(Path.TrimEndingDirectorySeparator(AppContext.BaseDirectory)).Parent!.Name; // bin/<Configuration>/net10.0
        var path = Path.Combine(TestData.RepoRoot, "tests", "MLNetVae.TestHost", "bin", configuration, "net10.0", "MLNetVae.TestHost.dll");
        Assert.True(File.Exists(path), $"{path} not found; build the solution first.");
        return path;
    }
}
