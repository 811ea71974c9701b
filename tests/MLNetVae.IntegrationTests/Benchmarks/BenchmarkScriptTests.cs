using System.Diagnostics;
using System.Text.Json.Nodes;
using MLNetVae.Tests.TestSupport;
using Xunit.Abstractions;

namespace MLNetVae.Tests.Benchmarks;

/// <summary>
/// <c>scripts/bench.sh</c> end to end on tiny sizes: every part runs, and the summary, its tables and the two plots
/// are written. It checks that the harness works, never a speed (speed is what the real run reports).
/// </summary>
public class BenchmarkScriptTests(ITestOutputHelper output)
{
    [Fact]
    public async Task EveryPartRunsAndTheReportHasItsTablesAndPlots()
    {
        var folder = Directory.CreateTempSubdirectory("mlnetvae-bench-smoke-").FullName;
        try
        {
            string root = TestData.RepoRoot;
            string binary = Path.Combine(root, "bench", "MLNetVae.Benchmarks", "bin", "Release", "net10.0", "MLNetVae.Benchmarks");
            var start = new ProcessStartInfo("bash", [Path.Combine(root, "scripts", "bench.sh")])
            {
                WorkingDirectory = root,
                RedirectStandardOutput = true,
                RedirectStandardError = true,
            };
            var settings = new Dictionary<string, string>
            {
                ["ROUNDS"] = "1", ["TRAIN_ROWS"] = "1024", ["BDN"] = "0",
                // The PyTorch side is not what this test is about, and it must never install packages from a test.
                ["PERF_PY"] = Path.Combine(folder, "no-perf.py"),
                ["SCALE_ROWS"] = "1500 3000", ["SCALE_BATCHES"] = "1 32",
                ["EXTRA_TRAIN_ARGS"] = "--dim 32 --hidden 16 --latent 4 --warmup-rows 256",
                ["EXTRA_MEMORY_ARGS"] = "--rows 2000 --epochs 3 --dim 32 --hidden 16 --latent 4",
                ["EXTRA_SCORE_ARGS"] = "--rows 2000 --apply-onnx-rows 200 --reps 1 --dim 32 --hidden 16 --latent 4",
                ["EXTRA_LATENCY_ARGS"] = "--calls 100 --warmup 10 --dim 32 --hidden 16 --latent 4",
                ["EXTRA_SCALE_TRAIN_ARGS"] = "--dim 32 --hidden 16 --latent 4",
                ["EXTRA_SCALE_SCORE_ARGS"] = "--reps 1 --min-rows 256 --dim 32 --hidden 16 --latent 4",
                // 3,000 rows of 32 floats = 375 KiB in memory, then streamed through a 64 KiB buffer.
                ["STREAM_ROWS"] = "3000", ["STREAM_BUDGET"] = "65536",
                ["EXTRA_STREAM_ARGS"] = "--dim 32 --hidden 16 --latent 4",
                ["EXTRA_CONTENTION_ARGS"] = "--rows 1024 --score-rows 1024 --reps 1 --dim 32 --hidden 16 --latent 4",
                ["EXTRA_PRECISION_ARGS"] = "--rows 2048 --detector-rows 256 --train-rows 1024 --epochs 1 --reps 1 --dim 32 --hidden 16 --latent 4",
                ["RUNS_DIR"] = Path.Combine(folder, "runs"),
                ["REPORT_OUT"] = Path.Combine(folder, "latest"),
                // The Release build of the test run has the harness already; otherwise the script builds it.
                ["NO_BUILD"] = File.Exists(binary) ? "1" : "0",
            };
            foreach (var (key, value) in settings)
                start.Environment[key] = value;

            using var process = Process.Start(start)!;
            var stdout = process.StandardOutput.ReadToEndAsync();
            var stderr = process.StandardError.ReadToEndAsync();
            Assert.True(process.WaitForExit(TimeSpan.FromMinutes(5)), "bench.sh did not finish in 5 minutes");
            process.WaitForExit();
            string stdoutText = await stdout, stderrText = await stderr;
            output.WriteLine(stdoutText);
            Assert.True(process.ExitCode == 0, $"bench.sh exited with {process.ExitCode}:\n{stderrText}\n{stdoutText}");
            Assert.Contains("PyTorch reference not found", stdoutText); // measured alone, said so

            string markdown = File.ReadAllText(Path.Combine(folder, "latest.md"));
            foreach (var section in new[] { "## Training throughput", "## Training memory", "## Batch scoring", "## Single-row latency",
                                            "## Scaling: training", "## Scaling: scoring by batch size", "## Streaming training", "## Threads on a shared machine", "## Int8 scoring",
                                            "**Machine limit: float32 peak" })
                Assert.Contains(section, markdown);
            foreach (var plot in new[] { "latest-scaling-train.png", "latest-scaling-score.png" })
            {
                var png = new FileInfo(Path.Combine(folder, plot));
                Assert.True(png.Exists && png.Length > 1000, $"{plot} missing or empty");
                Assert.Contains($"]({plot})", markdown);
            }

            var summary = JsonNode.Parse(File.ReadAllText(Path.Combine(folder, "latest.json")))!;
            Assert.Equal(2, summary["scale_train"]!.AsArray().Count);
            Assert.Equal([1, 32], summary["scale_score"]!["batches"]!.AsArray().Select(b => (int)b!["batch"]!));
            Assert.True((double)summary["memory"]!["peak_ratio"]! > 0);
            Assert.True((double)summary["peak_gflops"]! > 0);
            Assert.StartsWith("measured", (string?)summary["peak_source"]);
            // The in-memory and the streamed run at the same size, paired.
            Assert.Equal([false, true], summary["stream_train"]!.AsArray().Select(r => (bool)r!["streamed"]!));
            Assert.True((double)summary["streaming_ratio"]! > 0);
            Assert.Equal([2, 1], summary["contention"]!.AsArray().Select(c => (int)c!["ort_threads"]!)); // this machine's 2 cores, then one
            // Int8 and float32 side by side, with the accuracy of int8 on the same model.
            Assert.True((double)summary["precision"]!["speedup_transform"]!["median"]! > 0);
            Assert.InRange((double)summary["precision"]!["accuracy"]!["mu_cosine_mean"]!, 0.9, 1.0 + 1e-6);
        }
        finally
        {
            Directory.Delete(folder, recursive: true);
        }
    }
}
