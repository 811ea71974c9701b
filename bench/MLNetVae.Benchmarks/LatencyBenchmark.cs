using System.Diagnostics;
using System.Globalization;
using System.Text.Json.Nodes;
using BenchmarkDotNet.Attributes;
using BenchmarkDotNet.Columns;
using BenchmarkDotNet.Configs;
using BenchmarkDotNet.Jobs;
using BenchmarkDotNet.Loggers;
using BenchmarkDotNet.Reports;
using BenchmarkDotNet.Running;
using BenchmarkDotNet.Toolchains.InProcess.Emit;
using Microsoft.ML;
using Microsoft.ML.Data;

namespace MLNetVae.Benchmarks;

/// <summary>PredictionEngine input: the Features vector.</summary>
public sealed class LatencyInput
{
    public float[] Features { get; set; } = Array.Empty<float>();
}

/// <summary>PredictionEngine output: all four VAE columns.</summary>
public sealed class LatencyOutput
{
    public float[] Mu { get; set; } = Array.Empty<float>();
    public float[] LogVar { get; set; } = Array.Empty<float>();
    public float[] Reconstruction { get; set; } = Array.Empty<float>();
    public float ReconstructionError { get; set; }
}

/// <summary>The model, a PredictionEngine and a batch-1 raw ONNX Runtime scorer on the same exported files.</summary>
internal sealed class LatencyFixture : IDisposable
{
    public LatencyFixture(int dim, int hidden, int latent, int threads, int distinctRows = 256)
    {
        Environment.SetEnvironmentVariable("MLNETVAE_ORT_THREADS", threads.ToString(CultureInfo.InvariantCulture));
        Scoring = new ScoringFixture(dim, hidden, latent, threads);
        var data = SyntheticData.Normal(distinctRows, dim, seed: 3);
        Inputs = Enumerable.Range(0, distinctRows).Select(i => new LatencyInput { Features = data.AsSpan(i * dim, dim).ToArray() }).ToArray();
        Data = data;

        var inputSchema = SchemaDefinition.Create(typeof(LatencyInput));
        inputSchema[nameof(LatencyInput.Features)].ColumnType = new VectorDataViewType(NumberDataViewType.Single, dim);
        var outputSchema = SchemaDefinition.Create(typeof(LatencyOutput));
        outputSchema[nameof(LatencyOutput.Mu)].ColumnType = new VectorDataViewType(NumberDataViewType.Single, latent);
        outputSchema[nameof(LatencyOutput.LogVar)].ColumnType = new VectorDataViewType(NumberDataViewType.Single, latent);
        outputSchema[nameof(LatencyOutput.Reconstruction)].ColumnType = new VectorDataViewType(NumberDataViewType.Single, dim);
        // The engine first: MLNetVae creates the process's OrtEnv with its global pool; the raw scorer then shares it.
        Engine = Scoring.Ml.Model.CreatePredictionEngine<LatencyInput, LatencyOutput>(Scoring.Model, inputSchemaDefinition: inputSchema, outputSchemaDefinition: outputSchema);
        Engine.Predict(Inputs[0]);
        Raw = new RawOrtScorer(Scoring.EncoderPath, Scoring.DecoderPath, dim, latent, batch: 1, threads);
        Errors = new float[1];
    }

    public ScoringFixture Scoring { get; }
    public LatencyInput[] Inputs { get; }
    public float[] Data { get; }
    public float[] Errors { get; }
    public PredictionEngine<LatencyInput, LatencyOutput> Engine { get; }
    public RawOrtScorer Raw { get; }

    public float Predict(int i) => Engine.Predict(Inputs[i % Inputs.Length]).ReconstructionError;

    /// <summary>Raw ORT on one row, the tensor bound directly onto the row's float[].</summary>
    public float RawSingleRow(int i)
    {
        var row = Inputs[i % Inputs.Length].Features;
        Raw.Score(row, 1, Errors);
        return Errors[0];
    }

    public void Dispose()
    {
        Engine.Dispose();
        Raw.Dispose();
        Scoring.Dispose();
    }
}

/// <summary>
/// Single-row latency. The per-call distribution (p50/p99 over individually timed calls) comes from a plain
/// Stopwatch loop, because BenchmarkDotNet's statistics are over iterations that each average many calls (so its
/// percentiles are not per-call tails). BenchmarkDotNet (<c>--bdn</c>, in-process toolchain, so it does not rebuild
/// this 1.3 GB project) then gives a careful mean/median per call with its own warm-up and outlier handling.
/// </summary>
internal static class LatencyBenchmark
{
    public static int Run(int calls, int warmup, int threads, int dim, int hidden, int latent, bool bdn, string resultsPath)
    {
        Console.WriteLine($"latency: PredictionEngine.Predict, one row, {dim}/{hidden}/{latent}, {threads} ORT threads, {warmup} warm-up + {calls} timed calls");
        var record = ResultsFile.NewRecord("latency", null);
        record["settings"] = new JsonObject { ["calls"] = calls, ["warmup"] = warmup, ["threads"] = threads, ["dim"] = dim, ["hidden"] = hidden, ["latent"] = latent };

        using var fixture = new LatencyFixture(dim, hidden, latent, threads);
        record["mlnetvae_global_ort_pool"] = ScoreBenchmark.UsesGlobalThreadPool();
        var table = new Table("what", "p50 µs", "p90 µs", "p99 µs", "max µs", "mean µs", "calls/s");
        var results = new JsonObject();
        // Interleaved in blocks, so both see the same machine state.
        var engineTimes = new List<double>(calls);
        var rawTimes = new List<double>(calls);
        for (int i = 0; i < warmup; i++)
        {
            fixture.Predict(i);
            fixture.RawSingleRow(i);
        }
        Timing.Settle();
        double load = ProcStatus.LoadAverage();
        const int block = 100;
        float sink = 0;
        for (int done = 0; done < calls; done += block)
        {
            int n = Math.Min(block, calls - done);
            for (int i = 0; i < n; i++)
            {
                long t = Stopwatch.GetTimestamp();
                sink += fixture.Predict(done + i);
                engineTimes.Add(Stopwatch.GetElapsedTime(t).TotalMicroseconds);
            }
            for (int i = 0; i < n; i++)
            {
                long t = Stopwatch.GetTimestamp();
                sink += fixture.RawSingleRow(done + i);
                rawTimes.Add(Stopwatch.GetElapsedTime(t).TotalMicroseconds);
            }
        }
        if (float.IsNaN(sink))
            throw new InvalidOperationException("NaN result");

        foreach (var (key, label, times) in new[] { ("prediction_engine", "PredictionEngine.Predict (MLNetVae)", engineTimes), ("raw_ort_batch1", "raw ONNX Runtime, batch 1 (enc+dec+MSE)", rawTimes) })
        {
            var sorted = times.OrderBy(x => x).ToArray();
            double p50 = Spread.Percentile(sorted, 50), p90 = Spread.Percentile(sorted, 90), p99 = Spread.Percentile(sorted, 99);
            double mean = sorted.Average();
            table.Add(label, p50.ToString("F0", CultureInfo.InvariantCulture), p90.ToString("F0", CultureInfo.InvariantCulture), p99.ToString("F0", CultureInfo.InvariantCulture),
                sorted[^1].ToString("F0", CultureInfo.InvariantCulture), mean.ToString("F0", CultureInfo.InvariantCulture), 1e6 / mean);
            results[key] = new JsonObject { ["p50_us"] = p50, ["p90_us"] = p90, ["p99_us"] = p99, ["max_us"] = sorted[^1], ["mean_us"] = mean, ["calls"] = sorted.Length };
        }
        Console.WriteLine();
        Console.WriteLine(table);
        Console.WriteLine($"load average at start: {load:F2}, at end: {ProcStatus.LoadAverage():F2}");
        record["stopwatch"] = results;

        if (bdn)
            record["benchmarkdotnet"] = RunBenchmarkDotNet(fixture);
        ResultsFile.Append(resultsPath, record);
        return 0;
    }

    private static JsonObject RunBenchmarkDotNet(LatencyFixture fixture)
    {
        PredictLatencyBenchmarks.Fixture = fixture;
        var job = Job.Default
            .WithToolchain(InProcessEmitToolchain.Instance)
            .WithWarmupCount(5)
            .WithIterationCount(20)
            .WithIterationTime(Perfolizer.Horology.TimeInterval.FromMilliseconds(250))
            .WithId("InProcess");
        var config = ManualConfig.CreateEmpty()
            .AddJob(job)
            .AddColumnProvider(DefaultColumnProviders.Instance)
            .AddColumn(StatisticColumn.Median, StatisticColumn.P95)
            .AddLogger(ConsoleLogger.Default)
            .WithArtifactsPath(Path.Combine(Path.GetTempPath(), "mlnetvae-bdn-" + Environment.ProcessId))
            .WithOptions(ConfigOptions.DisableLogFile);
        Summary summary = BenchmarkRunner.Run<PredictLatencyBenchmarks>(config);
        var json = new JsonObject { ["note"] = "BenchmarkDotNet statistics over iterations (each the mean of many calls); times in microseconds per call" };
        foreach (var report in summary.Reports)
        {
            var stats = report.ResultStatistics;
            if (stats is null)
                continue;
            json[report.BenchmarkCase.Descriptor.WorkloadMethod.Name] = new JsonObject
            {
                ["mean_us"] = stats.Mean / 1000, ["median_us"] = stats.Median / 1000, ["p95_us"] = stats.Percentiles.P95 / 1000,
                ["stddev_us"] = stats.StandardDeviation / 1000, ["iterations"] = stats.N,
            };
        }
        return json;
    }
}

/// <summary>BenchmarkDotNet benchmarks (run in-process by <c>latency --bdn</c>; the fixture is built beforehand).</summary>
public class PredictLatencyBenchmarks
{
    internal static LatencyFixture? Fixture;
    private int i;

    [Benchmark(Baseline = true, Description = "raw ORT batch 1")]
    public float RawOrtSingleRow() => Fixture!.RawSingleRow(i++);

    [Benchmark(Description = "PredictionEngine.Predict")]
    public float PredictionEnginePredict() => Fixture!.Predict(i++);
}
