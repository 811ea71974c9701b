using System.Diagnostics;
using System.Text.Json.Nodes;
using Microsoft.ML;

namespace MLNetVae.Benchmarks;

/// <summary>Network and data shape shared by the training benchmarks.</summary>
internal sealed record TrainSettings(int Rows, int Dim, int Hidden, int Latent, int Batch, int Threads, int Seed, bool LibraryDefaultClip)
{
    /// <summary>Share of the rows held out for validation (0 in the comparisons with PyTorch, which has none).</summary>
    public double ValidationFraction { get; init; }

    /// <summary><see cref="VaeTrainingOptions.MaxInMemoryTrainingBytes"/> (null: the library's default).</summary>
    public long? MaxInMemoryTrainingBytes { get; init; }

    public VaeOptions Options(int epochs, IProgress<VaeEpochReport>? progress = null)
    {
        var options = new VaeOptions
        {
            InputColumnName = "Features",
            HiddenDim = Hidden,
            LatentDim = Latent,
            BatchSize = Batch,
            Epochs = epochs,
            NumberOfThreads = Threads,
            ValidationFraction = ValidationFraction,
            Standardize = false,
            Seed = Seed,
            Progress = progress,
            MaxInMemoryTrainingBytes = MaxInMemoryTrainingBytes,
        };
        if (!LibraryDefaultClip)
            options.GradientClipNormPerRow = null;
        return options;
    }

    /// <summary>What the gradient clipping of these settings is, in words (the library default is off since the divergence study).</summary>
    public string ClipDescription => Options(1).GradientClipNormPerRow is { } clip
        ? $"gradient clip {clip} per row{(LibraryDefaultClip ? " (library default)" : "")}"
        : $"no gradient clipping{(LibraryDefaultClip ? " (library default)" : "")}";

    public JsonObject ToJson() => new()
    {
        ["rows"] = Rows, ["dim"] = Dim, ["hidden"] = Hidden, ["latent"] = Latent, ["batch"] = Batch,
        ["threads"] = Threads, ["seed"] = Seed, ["gradient_clip_library_default"] = LibraryDefaultClip, ["gradient_clip_norm_per_row"] = Options(1).GradientClipNormPerRow,
        ["validation_fraction"] = ValidationFraction, ["standardize"] = false, ["max_in_memory_training_bytes"] = MaxInMemoryTrainingBytes,
    };
}

/// <summary>
/// Training throughput of <c>VaeEstimator.Fit</c> from an IDataView.
/// A custom harness rather than BenchmarkDotNet: one repetition is a multi-second Fit, the figure must be
/// comparable with a PyTorch process measured the same way (warm-up, then timed epochs), and bench.sh needs
/// fresh processes interleaved with PyTorch; BenchmarkDotNet's many-iteration, in-process statistics fit neither.
/// </summary>
internal static class TrainBenchmark
{
    public static int Run(TrainSettings s, int epochs, int reps, int warmupRows, int? round, string resultsPath)
    {
        Console.WriteLine($"train: {s.Rows:N0} x {s.Dim} ~ N(0,1), {s.Dim}/{s.Hidden}/{s.Latent}, batch {s.Batch}, {s.Threads} threads, " +
                          $"{epochs} epochs per repetition, {reps} repetition(s), {s.ClipDescription}");
        var ml = new MLContext(seed: 1);
        var record = ResultsFile.NewRecord("train", round);
        record["settings"] = s.ToJson();
        record["settings"]!["epochs_per_rep"] = epochs;
        record["settings"]!["warmup_rows"] = warmupRows;

        long t0 = Stopwatch.GetTimestamp();
        var data = SyntheticData.Normal(s.Rows, s.Dim, s.Seed);
        var view = new DenseDataView(data, s.Rows, s.Dim);
        Console.WriteLine($"data generated in {Timing.Seconds(t0):F1}s");

        // Warm-up (not timed): loads libtorch, JIT-compiles the managed code, primes the allocators and thread pool.
        // 20 batches, as the PyTorch reference's 20 warm-up steps, run for 2 epochs.
        t0 = Stopwatch.GetTimestamp();
        using (ml.Transforms.VariationalAutoencoder(s.Options(2)).Fit(new DenseDataView(data, Math.Min(warmupRows, s.Rows), s.Dim))) { }
        double warmupSeconds = Timing.Seconds(t0);
        Console.WriteLine($"warm-up Fit ({Math.Min(warmupRows, s.Rows):N0} rows x 2 epochs) took {warmupSeconds:F1}s");
        record["warmup_s"] = warmupSeconds;

        var table = new Table("rep", "epochs samples/s", "Fit wall samples/s", "per-epoch samples/s", "load avg");
        var repsJson = new JsonArray();
        var epochRates = new List<double>();
        var wallRates = new List<double>();
        for (int rep = 1; rep <= reps; rep++)
        {
            Timing.Settle();
            double loadBefore = ProcStatus.LoadAverage();
            long start = Stopwatch.GetTimestamp();
            using var model = ml.Transforms.VariationalAutoencoder(s.Options(epochs)).Fit(view);
            double wall = Timing.Seconds(start);
            var report = model.TrainingReport!;
            int n = report.TrainingRows;
            // Each epoch's SamplesPerSecond is n / (that epoch's time): recover the times and pool them.
            double epochSeconds = report.Epochs.Sum(e => n / e.SamplesPerSecond);
            long samples = (long)n * report.Epochs.Count;
            double epochRate = samples / epochSeconds;
            double wallRate = samples / wall;
            epochRates.Add(epochRate);
            wallRates.Add(wallRate);
            double loadAfter = ProcStatus.LoadAverage();
            table.Add(rep, epochRate, wallRate, string.Join(", ", report.Epochs.Select(e => e.SamplesPerSecond.ToString("N0", System.Globalization.CultureInfo.InvariantCulture))),
                $"{loadBefore:F2} → {loadAfter:F2}");
            repsJson.Add(new JsonObject
            {
                ["samples"] = samples,
                ["epoch_seconds"] = epochSeconds,
                ["fit_wall_seconds"] = wall,
                ["samples_per_s"] = epochRate,
                ["fit_wall_samples_per_s"] = wallRate,
                ["per_epoch_samples_per_s"] = ResultsFile.Array(report.Epochs.Select(e => e.SamplesPerSecond)),
                ["final_train_loss"] = report.Epochs[^1].TrainLoss,
                ["load_avg_before"] = loadBefore,
                ["load_avg_after"] = loadAfter,
            });
            Console.WriteLine($"  rep {rep}: {epochRate:N0} samples/s (epochs), {wallRate:N0} samples/s (whole Fit, {wall:F1}s)");
        }

        // As a user sees it: the whole Fit with default options (standardization, a validation split, early stopping,
        // TorchSharp's default threads); only the sizes, epochs and seed are set. Rows of the view × epochs / wall time.
        Timing.Settle();
        long defaultStart = Stopwatch.GetTimestamp();
        using (ml.Transforms.VariationalAutoencoder(new VaeOptions { HiddenDim = s.Hidden, LatentDim = s.Latent, Epochs = epochs, Seed = s.Seed }).Fit(view)) { }
        double defaultRate = (double)s.Rows * epochs / Timing.Seconds(defaultStart);
        Console.WriteLine($"  whole Fit with default VaeOptions (Epochs {epochs}, sizes and seed set): {defaultRate:N0} samples/s of the view's rows");
        record["default_options_fit_samples_per_s"] = defaultRate;

        var epochSpread = Spread.Of(epochRates);
        var wallSpread = Spread.Of(wallRates);
        Console.WriteLine();
        Console.WriteLine(table);
        Console.WriteLine($"training throughput, epochs only (comparable with PyTorch's timed epochs): median {epochSpread.Format()} samples/s");
        Console.WriteLine($"training throughput, whole Fit (IDataView read, init, epochs, snapshot):  median {wallSpread.Format()} samples/s");
        record["reps"] = repsJson;
        record["samples_per_s"] = epochSpread.ToJson();
        record["fit_wall_samples_per_s"] = wallSpread.ToJson();
        ResultsFile.Append(resultsPath, record);
        return 0;
    }
}

/// <summary>
/// Training memory: one process, one Fit of many epochs; VmRSS and VmHWM (peak) sampled after every epoch through
/// <see cref="VaeTrainingOptions.Progress"/>. The ratio peak after the last epoch / peak after the checkpoint epoch shows
/// whether memory keeps growing with the number of epochs (a leak or allocator fragmentation).
/// </summary>
internal static class MemoryBenchmark
{
    /// <summary>Reports synchronously on the training thread (System.Progress would post to the thread pool).</summary>
    private sealed class Sampler(List<(VaeEpochReport Report, double Rss, double Hwm, double Managed, double NativeInUse, double NativeFree)> samples, bool collect)
        : IProgress<VaeEpochReport>
    {
        public void Report(VaeEpochReport value)
        {
            // Diagnostic: a full collection with finalizers first shows what of the growth is only uncollected garbage
            // (TorchSharp wrappers whose finalizers free native memory).
            if (collect)
                Timing.Settle();
            var (rss, hwm) = ProcStatus.Read();
            // Managed bytes allocated (garbage not yet collected included), and glibc's native heap: bytes in use by
            // libtorch and the runtime vs free bytes the allocator keeps (a leak grows the first, fragmentation the second).
            var native = NativeHeap.Read();
            samples.Add((value, rss, hwm, GC.GetTotalMemory(false) / (1024.0 * 1024), native?.InUseMiB ?? double.NaN, native?.FreeHeldMiB ?? double.NaN));
            // Reported on the training thread, so TorchSharp's per-thread tensor counts are the trainer's.
            var tensors = TorchSharp.DisposeScopeManager.Statistics;
            Console.WriteLine($"  epoch {value.Epoch,2}: VmRSS {rss,7:N0} MiB, VmHWM {hwm,7:N0} MiB, managed heap {samples[^1].Managed,6:N0} MiB, " +
                              $"native in use {samples[^1].NativeInUse,6:N1} MiB, native free held {samples[^1].NativeFree,5:N1} MiB, {value.SamplesPerSecond:N0} samples/s; " +
                              $"tensors created outside a scope {tensors.CreatedOutsideScopeCount:N0}, disposed outside {tensors.DisposedOutsideScopeCount:N0}, live {tensors.ThreadTotalLiveCount:N0}");
        }
    }

    public static int Run(TrainSettings s, int epochs, int checkpoint, double target, bool collectEachEpoch, string resultsPath)
    {
        Console.WriteLine($"memory: {s.Rows:N0} x {s.Dim}, {s.Dim}/{s.Hidden}/{s.Latent}, batch {s.Batch}, {s.Threads} threads, one Fit of {epochs} epochs" +
                          (collectEachEpoch ? ", full GC before each sample" : ""));
        var record = ResultsFile.NewRecord("memory", null);
        record["settings"] = s.ToJson();
        record["settings"]!["epochs"] = epochs;
        record["settings"]!["checkpoint_epoch"] = checkpoint;
        record["settings"]!["collect_each_epoch"] = collectEachEpoch;

        var atStart = ProcStatus.Read();
        var ml = new MLContext(seed: 1);
        var data = SyntheticData.Normal(s.Rows, s.Dim, s.Seed);
        var view = new DenseDataView(data, s.Rows, s.Dim);
        var afterData = ProcStatus.Read();
        Console.WriteLine($"  start: VmRSS {atStart.RssMiB:N0} MiB; after generating the data ({(long)s.Rows * s.Dim * 4 / (1024 * 1024):N0} MiB of floats): VmRSS {afterData.RssMiB:N0} MiB");

        var samples = new List<(VaeEpochReport Report, double Rss, double Hwm, double Managed, double NativeInUse, double NativeFree)>();
        using var model = ml.Transforms.VariationalAutoencoder(s.Options(epochs, new Sampler(samples, collectEachEpoch))).Fit(view);
        var afterFit = ProcStatus.Read();
        GC.KeepAlive(data);

        var table = new Table("epoch", "VmRSS MiB", "VmHWM MiB", "managed MiB", "native in use MiB", "native free held MiB", "samples/s");
        foreach (var (report, rss, hwm, managed, inUse, free) in samples)
            table.Add(report.Epoch, rss, hwm, managed, inUse.ToString("F1"), free.ToString("F1"), report.SamplesPerSecond);
        Console.WriteLine();
        Console.WriteLine(table);

        // The ratio compares peaks at the end of epochs: the question is whether memory grows with the number of epochs.
        // The work after the last epoch (latent diagnostics, weight snapshot) is done once whatever the epochs, so its
        // peak is reported beside the ratio, not in it.
        double peakAtCheckpoint = samples.First(x => x.Report.Epoch == checkpoint).Hwm;
        double peakAtEnd = samples[^1].Hwm;
        double peakOfFit = Math.Max(peakAtEnd, afterFit.HwmMiB);
        double ratio = peakAtEnd / peakAtCheckpoint;
        // Growth of the current RSS per epoch after the checkpoint (least squares), a direct leak indicator.
        var tail = samples.Where(x => x.Report.Epoch >= checkpoint).ToArray();
        double slope = Slope(tail.Select(x => (double)x.Report.Epoch).ToArray(), tail.Select(x => x.Rss).ToArray());
        Console.WriteLine($"peak RSS after epoch {checkpoint}: {peakAtCheckpoint:N0} MiB; after epoch {epochs}: {peakAtEnd:N0} MiB; " +
                          $"ratio {ratio:F3} (target <= {target:F2}: {(ratio <= target ? "PASS" : "FAIL")}); VmRSS slope after epoch {checkpoint}: {slope:+0.0;-0.0} MiB/epoch; " +
                          $"peak of the whole Fit (with the post-training diagnostics): {peakOfFit:N0} MiB");

        record["rss_start_mib"] = atStart.RssMiB;
        record["rss_after_data_mib"] = afterData.RssMiB;
        record["rss_after_fit_mib"] = afterFit.RssMiB;
        record["epochs"] = new JsonArray(samples.Select(x => (JsonNode)new JsonObject
        {
            ["epoch"] = x.Report.Epoch, ["vmrss_mib"] = x.Rss, ["vmhwm_mib"] = x.Hwm, ["managed_mib"] = x.Managed, ["native_in_use_mib"] = double.IsNaN(x.NativeInUse) ? null : (JsonNode)x.NativeInUse,
            ["native_free_held_mib"] = double.IsNaN(x.NativeFree) ? null : (JsonNode)x.NativeFree,
            ["samples_per_s"] = x.Report.SamplesPerSecond,
        }).ToArray());
        record["peak_at_checkpoint_mib"] = peakAtCheckpoint;
        record["peak_at_end_mib"] = peakAtEnd;
        record["peak_of_fit_mib"] = peakOfFit;
        record["peak_ratio"] = ratio;
        record["target_ratio"] = target;
        record["pass"] = ratio <= target;
        record["rss_slope_mib_per_epoch"] = slope;
        ResultsFile.Append(resultsPath, record);
        return 0;
    }

    private static double Slope(double[] x, double[] y)
    {
        if (x.Length < 2)
            return double.NaN;
        double mx = x.Average(), my = y.Average();
        double num = 0, den = 0;
        for (int i = 0; i < x.Length; i++)
        {
            num += (x[i] - mx) * (y[i] - my);
            den += (x[i] - mx) * (x[i] - mx);
        }
        return num / den;
    }
}
