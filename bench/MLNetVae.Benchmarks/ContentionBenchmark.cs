using System.Diagnostics;
using System.Text.Json.Nodes;
using Microsoft.ML;

namespace MLNetVae.Benchmarks;

/// <summary>
/// Threads on a shared machine: training with the library's default thread count (<c>NumberOfThreads = null</c>)
/// and with one thread, on an idle machine and while one busy process per core competes for the cores (as in a
/// container with a CPU quota, on CI, beside a web server), interleaved in one process; and <c>Transform</c> with this
/// process's ONNX Runtime pool, idle and busy. <c>bench.sh contention</c> runs it twice, with the default ONNX Runtime
/// threads and with <c>MLNETVAE_ORT_THREADS=1</c>, so the scoring rows pair too. Target: the default never more than
/// 1.25x slower than one thread, busy or idle.
/// </summary>
internal static class ContentionBenchmark
{
    public static int Run(int rows, int scoreRows, int reps, int dim, int hidden, int latent, int batch, string resultsPath)
    {
        int busyProcesses = Environment.ProcessorCount;
        Console.WriteLine($"contention: {dim}/{hidden}/{latent}, {rows:N0} training rows (1 epoch), {scoreRows:N0} scored rows, {reps} interleaved repetitions; " +
                          $"busy = {busyProcesses} other processes spinning; GOMP_SPINCOUNT/OMP_WAIT_POLICY as the library leaves them; ORT threads {Scoring.OnnxRuntimeSessions.Threads}");
        var record = ResultsFile.NewRecord("contention", null);
        record["settings"] = new JsonObject
        {
            ["rows"] = rows, ["score_rows"] = scoreRows, ["reps"] = reps, ["dim"] = dim, ["hidden"] = hidden, ["latent"] = latent, ["batch"] = batch,
            ["busy_processes"] = busyProcesses, ["ort_threads"] = Scoring.OnnxRuntimeSessions.Threads,
        };
        var ml = new MLContext(seed: 1);
        var data = SyntheticData.Normal(rows, dim, seed: 3);
        var view = new DenseDataView(data, rows, dim);
        VaeOptions Options(int? threads) => new()
        {
            HiddenDim = hidden, LatentDim = latent, BatchSize = batch, Epochs = 1, ValidationFraction = 0, Standardize = false, Seed = 1,
            NumberOfThreads = threads,
        };
        double Train(int? threads)
        {
            using var model = ml.Transforms.VariationalAutoencoder(Options(threads)).Fit(view);
            return model.TrainingReport!.Epochs[0].SamplesPerSecond;
        }
        // Warm-up: loads libtorch (the library sets the OpenMP spin limit first) and ONNX Runtime.
        using var scorer = ml.Transforms.VariationalAutoencoder(Options(null)).Fit(new DenseDataView(data, Math.Min(rows, 2048), dim));
        var scoreView = DenseDataView.Repeating(data, scoreRows, dim);
        double Score()
        {
            long start = Stopwatch.GetTimestamp();
            ScoreBenchmark.ConsumeAllOutputs(scorer.Transform(scoreView));
            return scoreRows / Timing.Seconds(start);
        }
        Score();
        Console.WriteLine($"OpenMP: {MLNetVae.Training.Native.OpenMpSpinning.Outcome}");
        record["openmp"] = MLNetVae.Training.Native.OpenMpSpinning.Outcome;

        var results = new Dictionary<string, List<double>>();
        void Add(string key, double value)
        {
            (results.TryGetValue(key, out var list) ? list : results[key] = new()).Add(value);
            Console.WriteLine($"  {key}: {value:N0} rows/s");
        }
        for (int rep = 0; rep < reps; rep++)
        {
            foreach (bool busy in rep % 2 == 0 ? new[] { false, true } : new[] { true, false })
            {
                using var load = busy ? BusyProcesses.Start(busyProcesses) : null;
                string where = busy ? "busy" : "idle";
                // Alternate which thread setting goes first, so a drift in the load hits both alike.
                foreach (int? threads in rep % 2 == 0 ? new int?[] { null, 1 } : new int?[] { 1, null })
                {
                    Timing.Settle();
                    Add($"train {where}, {(threads is null ? "default threads" : "1 thread")}", Train(threads));
                }
                Timing.Settle();
                Add($"score {where}, ORT threads {Scoring.OnnxRuntimeSessions.Threads}", Score());
            }
        }
        var table = new Table("measurement", "rows/s median", "min", "max");
        var json = new JsonObject();
        foreach (var (key, values) in results)
        {
            var spread = Spread.Of(values);
            table.Add(key, spread.Median, spread.Min, spread.Max);
            json[key] = spread.ToJson();
        }
        record["rows_per_s"] = json;
        double Ratio(string where) => Spread.Of(results[$"train {where}, 1 thread"]).Median / Spread.Of(results[$"train {where}, default threads"]).Median;
        record["train_one_thread_over_default_idle"] = Ratio("idle");
        record["train_one_thread_over_default_busy"] = Ratio("busy");
        Console.WriteLine();
        Console.WriteLine(table);
        Console.WriteLine($"one thread / default threads: idle {Ratio("idle"):F2}, busy {Ratio("busy"):F2} (target: at most 1.25 both)");
        ResultsFile.Append(resultsPath, record);
        return 0;
    }

    /// <summary>Processes that keep every core busy until disposed (a shell loop each, killed with its tree).</summary>
    private sealed class BusyProcesses : IDisposable
    {
        private readonly List<Process> processes;

        private BusyProcesses(List<Process> processes) => this.processes = processes;

        public static BusyProcesses Start(int count)
        {
            var started = Enumerable.Range(0, count).Select(_ => Process.Start(new ProcessStartInfo("sh", ["-c", "while :; do :; done"]))!).ToList();
            Thread.Sleep(200); // let the scheduler see them
            return new BusyProcesses(started);
        }

        public void Dispose()
        {
            foreach (var process in processes)
            {
                try
                {
                    process.Kill(entireProcessTree: true);
                    process.WaitForExit();
                }
                catch (InvalidOperationException)
                {
                }
                process.Dispose();
            }
        }
    }
}
