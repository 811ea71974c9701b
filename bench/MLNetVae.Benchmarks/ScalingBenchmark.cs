using System.Diagnostics;
using System.Text.Json.Nodes;
using Microsoft.ML;

namespace MLNetVae.Benchmarks;

/// <summary>
/// How cost grows. <c>scale-train</c>: one Fit at a given number of rows (bench.sh runs 10k, 100k and 1M rows, each
/// in a fresh process), its time and the peak memory it added. <c>scale-score</c>: Transform and the raw ONNX
/// Runtime loop at batch sizes 1 … 4096 (interleaved), and the peak memory of scoring 10k … 1M rows.
/// Every source is a <see cref="DenseDataView.Repeating"/> view over a fixed pool of rows, so the source's own
/// memory is constant and any growth with the number of rows is the library's.
/// </summary>
internal static class ScalingBenchmark
{
    /// <summary>Rows of the pool the streamed sources cycle through (48 MiB at 768 features).</summary>
    private const int PoolRows = 16_384;

    public static int Train(TrainSettings s, int epochs, string resultsPath, string? sourceFile = null)
    {
        string source = sourceFile is null ? $"from a {PoolRows:N0}-row pool in memory" : $"from the binary file {sourceFile}";
        Console.WriteLine($"scale-train: {s.Rows:N0} rows x {s.Dim} read {source}, {s.Dim}/{s.Hidden}/{s.Latent}, " +
                          $"batch {s.Batch}, {s.Threads} threads, {epochs} epoch(s), validation fraction {s.ValidationFraction}, " +
                          $"MaxInMemoryTrainingBytes {(s.MaxInMemoryTrainingBytes?.ToString("N0") ?? "default")}, {s.ClipDescription}");
        // A run that sets the budget or reads a file is part of the streaming comparison, reported apart from the sizes sweep.
        bool streamingRun = s.MaxInMemoryTrainingBytes is not null || sourceFile is not null;
        var record = ResultsFile.NewRecord(streamingRun ? "stream-train" : "scale-train", null);
        record["settings"] = s.ToJson();
        record["settings"]!["epochs"] = epochs;
        record["settings"]!["pool_rows"] = PoolRows;
        record["settings"]!["source_file"] = sourceFile;

        var ml = new MLContext(seed: 1);
        var pool = SyntheticData.Normal(PoolRows, s.Dim, s.Seed);
        if (sourceFile is not null && !File.Exists(sourceFile))
            WriteBinaryFile(ml, sourceFile, pool, s.Rows, s.Dim);
        // Warm-up (not measured): loads libtorch and JIT-compiles, so the baseline below already includes them.
        using (ml.Transforms.VariationalAutoencoder(s.Options(1)).Fit(new DenseDataView(pool, Math.Min(5_120, PoolRows), s.Dim))) { }

        Timing.Settle();
        var before = ProcStatus.Read();
        bool peakReset = ProcStatus.ResetPeak();
        IDataView view = sourceFile is null ? DenseDataView.Repeating(pool, s.Rows, s.Dim) : ml.Data.LoadFromBinary(sourceFile);
        long start = Stopwatch.GetTimestamp();
        using var model = ml.Transforms.VariationalAutoencoder(s.Options(epochs)).Fit(view);
        double wall = Timing.Seconds(start);
        var after = ProcStatus.Read();

        var report = model.TrainingReport!;
        double epochSeconds = report.Epochs.Sum(e => report.TrainingRows / e.SamplesPerSecond);
        double samplesPerSecond = (double)report.TrainingRows * report.Epochs.Count / epochSeconds;
        double dataMiB = (double)s.Rows * s.Dim * sizeof(float) / (1024 * 1024);
        double added = after.HwmMiB - before.RssMiB;
        string path = report.ShuffleBufferRows is { } bufferRows ? $"streamed through a {bufferRows:N0}-row shuffle buffer" : "in memory";
        Console.WriteLine($"Fit {wall:F1} s, {path} (epochs {epochSeconds:F1} s, {samplesPerSecond:N0} samples/s; reading, set-up and statistics {wall - epochSeconds:F1} s)");
        Console.WriteLine($"RSS before Fit {before.RssMiB:N0} MiB; peak during Fit {after.HwmMiB:N0} MiB{(peakReset ? "" : " (process peak: VmHWM could not be reset)")}; " +
                          $"added {added:N0} MiB for {dataMiB:N0} MiB of float32 data ({added / dataMiB:F2}x)");

        record["streamed"] = report.ShuffleBufferRows is not null;
        record["shuffle_buffer_rows"] = report.ShuffleBufferRows;
        record["fit_wall_s"] = wall;
        record["epoch_s"] = epochSeconds;
        record["samples_per_s"] = samplesPerSecond;
        record["rss_before_mib"] = before.RssMiB;
        record["peak_mib"] = after.HwmMiB;
        record["peak_reset"] = peakReset;
        record["peak_added_mib"] = added;
        record["data_mib"] = dataMiB;
        ResultsFile.Append(resultsPath, record);
        return 0;
    }

    public static int Score(int[] batchSizes, int[] memoryRows, int minRows, int reps, int threads, int dim, int hidden, int latent, string resultsPath)
    {
        Environment.SetEnvironmentVariable("MLNETVAE_ORT_THREADS", threads.ToString(System.Globalization.CultureInfo.InvariantCulture));
        Console.WriteLine($"scale-score: {dim}/{hidden}/{latent}, {threads} ORT threads; batch sizes {string.Join(", ", batchSizes)} " +
                          $"({reps} interleaved repetitions, at least {minRows:N0} rows each); memory at {string.Join(", ", memoryRows.Select(r => r.ToString("N0")))} rows");
        var record = ResultsFile.NewRecord("scale-score", null);
        record["settings"] = new JsonObject
        {
            ["dim"] = dim, ["hidden"] = hidden, ["latent"] = latent, ["threads"] = threads, ["reps"] = reps, ["min_rows"] = minRows,
            ["pool_rows"] = PoolRows,
        };

        using var fixture = new ScoringFixture(dim, hidden, latent, threads);
        int maxRows = batchSizes.Select(b => RowsFor(b, minRows)).Max();
        var data = SyntheticData.Normal(maxRows, dim, seed: 1);
        var errors = new float[maxRows];

        // MLNetVae scores first, so the process-wide ORT environment gets its global pool (see RawOrtScorer).
        ScoreBenchmark.ConsumeAllOutputs(fixture.Model.Transform(new DenseDataView(data, Math.Min(2048, maxRows), dim)));

        var table = new Table("batch", "rows", "Transform rows/s", "raw ORT rows/s", "Transform / raw");
        var batches = new JsonArray();
        foreach (int batch in batchSizes)
        {
            int rows = RowsFor(batch, minRows);
            var view = new DenseDataView(data, rows, dim);
            using var raw = new RawOrtScorer(fixture.EncoderPath, fixture.DecoderPath, dim, latent, batch, threads);
            // Warm-up of both at this batch size (ORT plans per shape), then interleaved repetitions.
            ScoreBenchmark.ConsumeAllOutputs(fixture.Model.TransformWithBlockSize(new DenseDataView(data, Math.Min(rows, 4 * batch), dim), batch));
            raw.Score(data, Math.Min(rows, 4 * batch), errors);
            var ours = new List<double>();
            var baseline = new List<double>();
            var ratios = new List<double>();
            for (int rep = 0; rep < reps; rep++)
            {
                double a = 0, b = 0;
                // Alternate which goes first, so a drift in the machine's load hits both alike.
                for (int k = 0; k < 2; k++)
                {
                    if ((k == 0) == (rep % 2 == 0))
                        a = Rate(rows, () => ScoreBenchmark.ConsumeAllOutputs(fixture.Model.TransformWithBlockSize(view, batch)));
                    else
                        b = Rate(rows, () => raw.Score(data, rows, errors));
                }
                ours.Add(a);
                baseline.Add(b);
                ratios.Add(a / b);
            }
            var o = Spread.Of(ours);
            var r = Spread.Of(baseline);
            var q = Spread.Of(ratios);
            table.Add(batch, rows.ToString("N0"), o.Median, r.Median, q.Format("F2"));
            Console.WriteLine($"  batch {batch,5}: Transform {o.Format()} rows/s, raw ORT {r.Format()} rows/s, ratio {q.Format("F2")}");
            batches.Add(new JsonObject
            {
                ["batch"] = batch, ["rows"] = rows,
                ["transform_rows_per_s"] = o.ToJson(), ["raw_ort_rows_per_s"] = r.ToJson(), ["ratio"] = q.ToJson(),
            });
        }
        Console.WriteLine();
        Console.WriteLine(table);
        record["batches"] = batches;

        // Memory: the same Transform over more and more rows; the peak must not grow with them.
        var pool = SyntheticData.Normal(PoolRows, dim, seed: 2);
        var memoryTable = new Table("rows", "seconds", "rows/s", "RSS before MiB", "peak MiB", "peak added MiB");
        var memory = new JsonArray();
        foreach (int rows in memoryRows)
        {
            Timing.Settle();
            var before = ProcStatus.Read();
            bool reset = ProcStatus.ResetPeak();
            long start = Stopwatch.GetTimestamp();
            ScoreBenchmark.ConsumeAllOutputs(fixture.Model.Transform(DenseDataView.Repeating(pool, rows, dim)));
            double seconds = Timing.Seconds(start);
            var after = ProcStatus.Read();
            memoryTable.Add(rows.ToString("N0"), seconds.ToString("F1"), rows / seconds, before.RssMiB, after.HwmMiB, after.HwmMiB - before.RssMiB);
            memory.Add(new JsonObject
            {
                ["rows"] = rows, ["seconds"] = seconds, ["rows_per_s"] = rows / seconds,
                ["rss_before_mib"] = before.RssMiB, ["peak_mib"] = after.HwmMiB, ["peak_added_mib"] = after.HwmMiB - before.RssMiB, ["peak_reset"] = reset,
            });
            Console.WriteLine($"  {rows,9:N0} rows: {seconds:F1} s, peak {after.HwmMiB:N0} MiB (+{after.HwmMiB - before.RssMiB:N0} MiB over the RSS before){(reset ? "" : " (VmHWM not reset: process peak)")}");
        }
        Console.WriteLine();
        Console.WriteLine(memoryTable);
        record["memory"] = memory;
        ResultsFile.Append(resultsPath, record);
        return 0;
    }

    /// <summary>
    /// Writes <paramref name="rows"/> rows cycling through <paramref name="pool"/> as an ML.NET binary file (the format
    /// <c>mlContext.Data.SaveAsBinary</c> writes), through a temporary name so an interrupted run leaves no partial file.
    /// </summary>
    private static void WriteBinaryFile(MLContext ml, string path, float[] pool, int rows, int dim)
    {
        Console.WriteLine($"writing {rows:N0} x {dim} rows ({(double)rows * dim * 4 / (1L << 30):F1} GiB of float32) to {path} ...");
        long start = Stopwatch.GetTimestamp();
        string partial = path + ".partial";
        using (var stream = File.Create(partial))
            ml.Data.SaveAsBinary(DenseDataView.Repeating(pool, rows, dim), stream);
        File.Move(partial, path, overwrite: false);
        Console.WriteLine($"written in {Timing.Seconds(start):F0} s: {new FileInfo(path).Length / (double)(1L << 30):F1} GiB on disk");
    }

    /// <summary>Rows per measurement: enough for ~16 calls at large batches, at least <paramref name="minRows"/>.</summary>
    private static int RowsFor(int batch, int minRows) => Math.Max(minRows, 16 * batch);

    private static double Rate(int rows, Func<double> run)
    {
        Timing.Settle();
        long start = Stopwatch.GetTimestamp();
        double checksum = run();
        double seconds = Timing.Seconds(start);
        if (!double.IsFinite(checksum))
            throw new InvalidOperationException("Scoring produced a non-finite checksum.");
        return rows / seconds;
    }
}
