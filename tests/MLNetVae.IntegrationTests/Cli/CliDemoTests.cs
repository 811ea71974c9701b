using System.Text.Json;
using Microsoft.ML.OnnxRuntime;
using MLNetVae.Cli;
using MLNetVae.Tests.TestSupport;
using Spectre.Console;

namespace MLNetVae.Tests.Cli;

/// <summary>
/// `mlnetvae demo` run in-process through the same entry point as the executable (<see cref="CliApp.Run"/>), with the
/// console captured: exit codes, the files it writes, and its one-line errors.
/// </summary>
public sealed class CliDemoTests : IDisposable
{
    private static readonly byte[] PngMagic = [0x89, 0x50, 0x4E, 0x47, 0x0D, 0x0A, 0x1A, 0x0A];
    private readonly DirectoryInfo temp = Directory.CreateTempSubdirectory("mlnetvae-cli-");

    public void Dispose() => temp.Delete(recursive: true);

    private static bool ScikitLearnIsInstalled()
    {
        if (!File.Exists("/usr/bin/python3"))
            return false;
        using var python = System.Diagnostics.Process.Start(new System.Diagnostics.ProcessStartInfo("/usr/bin/python3", ["-c", "import sklearn"])
            { RedirectStandardError = true })!;
        python.WaitForExit();
        return python.ExitCode == 0;
    }

    [Fact]
    public void DemoWritesModelsPlotsAndReport_ThenRefusesToOverwriteThem()
    {
        string output = Path.Combine(temp.FullName, "demo");
        // No --data: the default, samples/data/20news_3_bert768.csv, must be found from the test's working folder.
        var run = Cli("demo", "--output", output, "--epochs", "3", "--seed", "1");

        Assert.True(run.ExitCode == 0, $"exit code {run.ExitCode}\n{run.Out}\n{run.Error}");
        Assert.Contains("ROC-AUC", run.Out);
        Assert.Contains("PCA", run.Out);
        Assert.Contains("615 rows", run.Out);

        using (var encoder = new InferenceSession(AssertNonEmptyFile(output, "encoder.onnx")))
        {
            Assert.Equal(768, encoder.InputMetadata["features"].Dimensions[1]);
            Assert.Equal(new[] { "logvar", "mu" }, encoder.OutputMetadata.Keys.Order());
        }
        using (var decoder = new InferenceSession(AssertNonEmptyFile(output, "decoder.onnx")))
            Assert.Equal(768, decoder.OutputMetadata["reconstruction"].Dimensions[1]);

        foreach (var png in new[] { "latent.png", "loss.png" })
            Assert.Equal(PngMagic, File.ReadAllBytes(AssertNonEmptyFile(output, png)).Take(8));

        using (var report = JsonDocument.Parse(File.ReadAllText(AssertNonEmptyFile(output, "report.json"))))
        {
            foreach (var method in new[] { "vae", "pca" })
            {
                double auc = report.RootElement.GetProperty(method).GetProperty("result").GetProperty("rocAuc").GetDouble();
                Assert.True(auc > 0 && auc <= 1, $"{method} ROC-AUC {auc}");
            }
            // IsolationForest is shown when the machine has scikit-learn, and says why not otherwise.
            var forest = report.RootElement.GetProperty("isolationForest");
            if (ScikitLearnIsInstalled())
            {
                double auc = forest.GetProperty("result").GetProperty("rocAuc").GetDouble();
                Assert.True(auc > 0.5 && auc <= 1, $"IsolationForest ROC-AUC {auc}");
                Assert.Contains("IsolationForest (scikit-learn)", run.Out);
            }
            else
            {
                Assert.Equal(JsonValueKind.Null, forest.GetProperty("result").ValueKind);
                Assert.Contains("IsolationForest (scikit-learn) not shown:", run.Out);
            }
            var training = report.RootElement.GetProperty("vae").GetProperty("training");
            Assert.Equal(3, training.GetProperty("epochsRun").GetInt32());
            Assert.Equal(3, training.GetProperty("epochs").GetArrayLength());
            Assert.Equal(615, report.RootElement.GetProperty("data").GetProperty("rows").GetInt32());
        }

        var stamp = File.GetLastWriteTimeUtc(Path.Combine(output, "encoder.onnx"));
        var again = Cli("demo", "--data", TestData.NewsEmbeddingsCsv, "--output", output, "--epochs", "3");

        Assert.NotEqual(0, again.ExitCode);
        Assert.Contains(Path.Combine(output, "encoder.onnx"), again.Error);
        Assert.Contains("--overwrite", again.Error);
        Assert.DoesNotContain("   at ", again.Error); // no stack trace without --verbose
        Assert.Equal(stamp, File.GetLastWriteTimeUtc(Path.Combine(output, "encoder.onnx")));
    }

    [Fact]
    public void MissingDataFileExitsWithUsageErrorNamingThePath()
    {
        string missing = Path.Combine(temp.FullName, "no-such-file.csv");
        var run = Cli("demo", "--data", missing, "--output", Path.Combine(temp.FullName, "out"));

        Assert.Equal(2, run.ExitCode);
        Assert.Contains(missing, run.Error);
        Assert.DoesNotContain("   at ", run.Error);
        Assert.False(Directory.Exists(Path.Combine(temp.FullName, "out")));
    }

    [Fact]
    public void MalformedCsvExitsWithUsageErrorNamingTheLine()
    {
        string csv = Path.Combine(temp.FullName, "bad.csv");
        File.WriteAllLines(csv, ["Label,f0,f1", "0,1.5,2.5", "1,0.5"]);
        var run = Cli("demo", "--data", csv, "--output", Path.Combine(temp.FullName, "out"));

        Assert.Equal(2, run.ExitCode);
        Assert.Contains("line 3", run.Error);
    }

    [Fact]
    public void InvalidOptionExitsWithUsageError()
    {
        var run = Cli("demo", "--epochs", "0", "--output", Path.Combine(temp.FullName, "out"));

        Assert.Equal(2, run.ExitCode);
        Assert.Contains("--epochs", run.Error);
    }

    [Fact]
    public void CancellationExits130AndWritesNoFiles()
    {
        using var cancelled = new CancellationTokenSource();
        cancelled.Cancel();
        string output = Path.Combine(temp.FullName, "cancelled");
        var run = Cli(cancelled.Token, "demo", "--data", TestData.NewsEmbeddingsCsv, "--output", output, "--epochs", "3");

        Assert.Equal(130, run.ExitCode);
        Assert.Contains("Cancelled", run.Error);
        Assert.Empty(Directory.Exists(output) ? Directory.GetFiles(output) : []);
    }

    private static string AssertNonEmptyFile(string folder, string name)
    {
        string path = Path.Combine(folder, name);
        Assert.True(File.Exists(path), $"{path} was not written");
        Assert.True(new FileInfo(path).Length > 0, $"{path} is empty");
        return path;
    }

    private static CliRun Cli(params string[] args) => Cli(CancellationToken.None, args);

    private static CliRun Cli(CancellationToken cancellationToken, params string[] args)
    {
        var outText = new StringWriter();
        var errorText = new StringWriter();
        var context = new CliContext(CapturedConsole(outText), CapturedConsole(errorText), cancellationToken, HandleCtrlC: false);
        int exitCode = CliApp.Run(args, context);
        return new CliRun(exitCode, outText.ToString(), errorText.ToString());
    }

    private static IAnsiConsole CapturedConsole(TextWriter writer)
    {
        var console = AnsiConsole.Create(new AnsiConsoleSettings
        {
            Ansi = AnsiSupport.No,
            ColorSystem = ColorSystemSupport.NoColors,
            Interactive = InteractionSupport.No,
            Out = new AnsiConsoleOutput(writer),
        });
        console.Profile.Width = 400; // no wrapping, so paths in messages stay on one line
        return console;
    }

    private sealed record CliRun(int ExitCode, string Out, string Error);
}
