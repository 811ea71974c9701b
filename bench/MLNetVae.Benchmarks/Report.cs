using System.Globalization;
using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;

namespace MLNetVae.Benchmarks;

/// <summary>
/// Summarizes one bench.sh run: the JSON Lines records of the C# commands plus the PyTorch reference's JSON
/// outputs (pytorch-ROUND.json), paired by round for the interleaved training comparison.
/// Writes PREFIX.json and PREFIX.md and prints the Markdown.
/// </summary>
internal static class Report
{
    private static readonly CultureInfo Inv = CultureInfo.InvariantCulture;

    public static int Run(string runDirectory, string outputPrefix)
    {
        var resultsPath = Path.Combine(runDirectory, "results.jsonl");
        var records = File.Exists(resultsPath)
            ? File.ReadLines(resultsPath).Where(l => l.Trim().Length > 0).Select(l => JsonNode.Parse(l)!.AsObject()).ToList()
            : new List<JsonObject>();
        var pytorch = Directory.GetFiles(runDirectory, "pytorch-*.json")
            .Select(f => (Round: int.Parse(Path.GetFileNameWithoutExtension(f)["pytorch-".Length..], Inv), Json: JsonNode.Parse(File.ReadAllText(f))!.AsObject()))
            .OrderBy(p => p.Round).ToList();

        var summary = new JsonObject
        {
            ["generated_utc"] = DateTime.UtcNow.ToString("o", Inv),
            ["run_directory"] = Path.GetRelativePath(RepoPaths.Root, Path.GetFullPath(runDirectory)),
            ["machine"] = records.FirstOrDefault()?["machine"]?.DeepClone(),
        };
        var md = new StringBuilder();
        md.AppendLine("# MLNetVae benchmark summary");
        md.AppendLine();
        if (summary["machine"] is JsonObject machine)
        {
            md.AppendLine(FormattableString.Invariant($"Machine: {machine["cpu"]}, {machine["logical_cpus"]} logical CPUs, {machine["os"]}; OMP_WAIT_POLICY {machine["OMP_WAIT_POLICY"]}."));
            md.AppendLine("Versions: " + string.Join(", ", machine["versions"]!.AsObject().Select(kv => $"{kv.Key} {kv.Value}")) + ".");
            md.AppendLine();
        }
        md.AppendLine("Spread: median [min – max] over repetitions. The machine is shared: prefer the ratios, which pair measurements taken next to each other.");
        md.AppendLine();
        var (peak, peakSource) = Roofline.PeakOf(records);
        summary["peak_gflops"] = peak;
        summary["peak_source"] = peakSource;
        md.AppendLine(Str($"**Machine limit: float32 peak {peak:F0} GFLOP/s** ({peakSource}). Every throughput below is also given as GFLOP/s and as a share of it " +
                          "(FLOPs per row: 2 per multiply-add of the six linear layers for scoring, 3 times that for training)."));
        if (records.LastOrDefault(r => (string?)r["kind"] == "peak") is { } gemm)
            md.AppendLine("GEMM: " + string.Join(", ", gemm["gemm"]!.AsArray().Select(g => Str($"n = {(int)g!["n"]!}: {(double)g["gflops"]!:F0}"))) + " GFLOP/s.");
        md.AppendLine();

        Train(records.Where(r => (string?)r["kind"] == "train").ToList(), pytorch, summary, md, peak);
        Memory(records.LastOrDefault(r => (string?)r["kind"] == "memory"), summary, md);
        Score(records.LastOrDefault(r => (string?)r["kind"] == "score"), summary, md, peak);
        Latency(records.LastOrDefault(r => (string?)r["kind"] == "latency"), summary, md, peak);
        ScalingReport.Train(records.Where(r => (string?)r["kind"] == "scale-train").ToList(), summary, md, outputPrefix, peak);
        ScalingReport.Score(records.LastOrDefault(r => (string?)r["kind"] == "scale-score"), summary, md, outputPrefix, peak);
        ScalingReport.Streaming(records.Where(r => (string?)r["kind"] == "stream-train").ToList(), summary, md, peak);
        Contention(records.Where(r => (string?)r["kind"] == "contention").ToList(), summary, md, peak);
        Precision(records.LastOrDefault(r => (string?)r["kind"] == "precision"), summary, md, peak);

        Directory.CreateDirectory(Path.GetDirectoryName(Path.GetFullPath(outputPrefix))!);
        File.WriteAllText(outputPrefix + ".json", summary.ToJsonString(new JsonSerializerOptions { WriteIndented = true }) + "\n");
        File.WriteAllText(outputPrefix + ".md", md.ToString());
        Console.WriteLine(md.ToString());
        Console.WriteLine($"(wrote {outputPrefix}.json and {outputPrefix}.md)");
        return 0;
    }

    private static double TrainedFlops(JsonNode? settings) => settings is null ? 0
        : Roofline.TrainedFlopsPerRow((int)settings["dim"]!, (int)settings["hidden"]!, (int)settings["latent"]!);

    private static double ForwardFlops(JsonNode settings) =>
        Roofline.ForwardFlopsPerRow((int)settings["dim"]!, (int)settings["hidden"]!, (int)settings["latent"]!);

    private static void Train(List<JsonObject> ours, List<(int Round, JsonObject Json)> pytorch, JsonObject summary, StringBuilder md, double peak)
    {
        if (ours.Count == 0 && pytorch.Count == 0)
            return;
        var st = ours.FirstOrDefault()?["settings"];
        md.AppendLine(st is null
            ? "## Training throughput (samples/s)"
            : Str($"## Training throughput (samples/s; {st["dim"]}/{st["hidden"]}/{st["latent"]}, batch {st["batch"]}, {st["threads"]} threads, {(int)st["rows"]!:N0} rows ~ N(0,1), {st["epochs_per_rep"]} epochs per repetition)"));
        md.AppendLine();
        var table = new Table("round", "MLNetVae (epochs)", "MLNetVae (whole Fit)", "MLNetVae (whole Fit, default options)", "PyTorch", "ours / PyTorch",
            "default-options Fit / PyTorch", "load avg (1 min) around the C# run");
        var defaultRatios = new List<double>();
        var ratios = new List<double>();
        var pairs = new JsonArray();
        var ourRates = new List<double>();
        var ourWall = new List<double>();
        var pyRates = new List<double>();
        var quietRatios = new List<double>();
        int cpus = (int?)ours.FirstOrDefault()?["machine"]?["logical_cpus"] ?? Environment.ProcessorCount;
        var rounds = ours.Select(r => (int?)r["round"] ?? 0).Concat(pytorch.Select(p => p.Round)).Distinct().OrderBy(r => r);
        foreach (int round in rounds)
        {
            var mine = ours.Where(r => ((int?)r["round"] ?? 0) == round).SelectMany(r => r["reps"]!.AsArray()).ToList();
            double? ourRate = mine.Count > 0 ? Spread.Of(mine.Select(x => (double)x!["samples_per_s"]!)).Median : null;
            double? wall = mine.Count > 0 ? Spread.Of(mine.Select(x => (double)x!["fit_wall_samples_per_s"]!)).Median : null;
            var py = pytorch.Where(p => p.Round == round).Select(p => (double?)p.Json["train_samples_per_s_median"]).FirstOrDefault();
            double? ratio = ourRate is { } o && py is { } p ? o / p : null;
            double? defaults = ours.Where(r => ((int?)r["round"] ?? 0) == round).Select(r => (double?)r["default_options_fit_samples_per_s"]).FirstOrDefault(d => d is not null);
            double? defaultRatio = defaults is { } d0 && py is { } p0 ? d0 / p0 : null;
            if (defaultRatio is { } dr) defaultRatios.Add(dr);
            if (ourRate is { } a) ourRates.Add(a);
            if (wall is { } w) ourWall.Add(w);
            if (py is { } b) pyRates.Add(b);
            if (ratio is { } r) ratios.Add(r);
            string load = string.Join("; ", mine.Select(x => Str($"{(double)x!["load_avg_before"]!:F1} → {(double)x["load_avg_after"]!:F1}")));
            // Our own process accounts for about `threads` of the load; much more means another process had the cores.
            double maxLoad = mine.Select(x => Math.Max((double)x!["load_avg_before"]!, (double)x["load_avg_after"]!)).DefaultIfEmpty(double.NaN).Max();
            bool quiet = maxLoad <= cpus + 1.5;
            if (quiet && ratio is { } q) quietRatios.Add(q);
            if (!quiet) load += " (loaded)";
            table.Add(round, Num(ourRate), Num(wall), Num(defaults), Num(py), ratio?.ToString("F3", Inv) ?? "n/a", defaultRatio?.ToString("F3", Inv) ?? "n/a", load);
            pairs.Add(new JsonObject
            {
                ["round"] = round, ["ours_samples_per_s"] = ourRate, ["ours_fit_wall_samples_per_s"] = wall, ["ours_default_options_fit_samples_per_s"] = defaults,
                ["pytorch_samples_per_s"] = py, ["ratio"] = ratio, ["default_options_ratio"] = defaultRatio,
            });
        }
        var train = new JsonObject
        {
            ["ours_samples_per_s"] = Spread.Of(ourRates).ToJson(),
            ["ours_fit_wall_samples_per_s"] = Spread.Of(ourWall).ToJson(),
            ["pytorch_samples_per_s"] = pyRates.Count > 0 ? Spread.Of(pyRates).ToJson() : null,
            ["ratio_ours_vs_pytorch"] = ratios.Count > 0 ? Spread.Of(ratios).ToJson() : null,
            ["ratio_default_options_fit_vs_pytorch"] = defaultRatios.Count > 0 ? Spread.Of(defaultRatios).ToJson() : null,
            ["rounds"] = pairs,
        };
        if (pytorch.Count > 0)
        {
            var env = pytorch[0].Json["env"];
            train["pytorch_env"] = env?.DeepClone();
        }
        summary["train"] = train;
        md.AppendLine(table.ToMarkdown());
        double trained = TrainedFlops(st);
        if (trained > 0 && ourRates.Count > 0)
            md.AppendLine(Str($"Roofline ({trained / 1e6:F1} MFLOP per trained row): MLNetVae epochs {Roofline.Format(Spread.Of(ourRates).Median, trained, peak)}, " +
                              $"whole Fit {Roofline.Format(Spread.Of(ourWall).Median, trained, peak)}" +
                              (pyRates.Count > 0 ? $", PyTorch {Roofline.Format(Spread.Of(pyRates).Median, trained, peak)}." : ".")));
        md.AppendLine(Str($"MLNetVae {Spread.Of(ourRates).Format()} samples/s; PyTorch {(pyRates.Count > 0 ? Spread.Of(pyRates).Format() : "not measured")} samples/s; " +
                                                  $"**ours / PyTorch {(ratios.Count > 0 ? Spread.Of(ratios).Format("F3") : "n/a")}** (per interleaved round); " +
                          $"**the whole Fit with default options / PyTorch's timed epochs {(defaultRatios.Count > 0 ? Spread.Of(defaultRatios).Format("F3") : "n/a")}** " +
                          "(the user's view: standardization, a 10% validation split evaluated every epoch, TorchSharp's default threads, reading the IDataView; " +
                          "samples = the view's rows × epochs)."));
        md.AppendLine(Str($"Rounds whose 1-minute load average stayed <= {cpus + 1.5:F1} (about our own threads plus 1.5) around the C# run: " +
                          (quietRatios.Count > 0 ? $"**ours / PyTorch {Spread.Of(quietRatios).Format("F3")}** over {quietRatios.Count} round(s)." : "none; every round ran on a loaded machine and the ratios are noise.")));
        train["ratio_ours_vs_pytorch_quiet_rounds"] = quietRatios.Count > 0 ? Spread.Of(quietRatios).ToJson() : null;
        train["quiet_load_threshold"] = cpus + 1.5;
        if (pytorch.Count == 0)
            md.AppendLine("The PyTorch reference (../shared/reference/perf.py) was not found or not run: no ratio.");
        md.AppendLine();
    }

    private static void Memory(JsonObject? record, JsonObject summary, StringBuilder md)
    {
        if (record is null)
            return;
        summary["memory"] = new JsonObject
        {
            ["peak_at_checkpoint_mib"] = record["peak_at_checkpoint_mib"]?.DeepClone(),
            ["peak_at_end_mib"] = record["peak_at_end_mib"]?.DeepClone(),
            ["peak_of_fit_mib"] = record["peak_of_fit_mib"]?.DeepClone(),
            ["peak_ratio"] = record["peak_ratio"]?.DeepClone(),
            ["target_ratio"] = record["target_ratio"]?.DeepClone(),
            ["pass"] = record["pass"]?.DeepClone(),
            ["rss_slope_mib_per_epoch"] = record["rss_slope_mib_per_epoch"]?.DeepClone(),
            ["epochs"] = record["epochs"]?.DeepClone(),
        };
        int checkpoint = (int)record["settings"]!["checkpoint_epoch"]!;
        int epochs = (int)record["settings"]!["epochs"]!;
        var ms = record["settings"]!;
        md.AppendLine(Str($"## Training memory ({(int)ms["rows"]!:N0} x {ms["dim"]}, {ms["dim"]}/{ms["hidden"]}/{ms["latent"]}, batch {ms["batch"]}, {ms["threads"]} threads, one Fit of {epochs} epochs)"));
        md.AppendLine();
        var table = new Table("epoch", "VmRSS MiB", "VmHWM (peak) MiB");
        foreach (var e in record["epochs"]!.AsArray())
            table.Add((int)e!["epoch"]!, (double)e["vmrss_mib"]!, (double)e["vmhwm_mib"]!);
        md.AppendLine(table.ToMarkdown());
        md.AppendLine(Str(
            $"Peak after epoch {checkpoint}: {(double)record["peak_at_checkpoint_mib"]!:N0} MiB; after epoch {epochs}: {(double)record["peak_at_end_mib"]!:N0} MiB; " +
            $"**ratio {(double)record["peak_ratio"]!:F3}** (target ≤ {(double)record["target_ratio"]!:F2}: {((bool)record["pass"]! ? "pass" : "FAIL")}); " +
            $"VmRSS slope after epoch {checkpoint}: {(double)record["rss_slope_mib_per_epoch"]!:+0.0;-0.0} MiB/epoch" +
            (record["peak_of_fit_mib"] is { } whole ? $"; peak of the whole Fit, with the one-off work after the last epoch: {(double)whole:N0} MiB." : ".")));
        md.AppendLine();
    }

    private static void Score(JsonObject? record, JsonObject summary, StringBuilder md, double peak)
    {
        if (record is null)
            return;
        summary["score"] = new JsonObject
        {
            ["rows_per_s"] = record["rows_per_s"]?.DeepClone(),
            ["ratio_ours_vs_raw_ort"] = record["ratio_ours_vs_raw_ort"]?.DeepClone(),
            ["ratio_ours_vs_apply_onnx"] = record["ratio_ours_vs_apply_onnx"]?.DeepClone(),
            ["mlnetvae_global_ort_pool"] = record["mlnetvae_global_ort_pool"]?.DeepClone(),
            ["settings"] = record["settings"]?.DeepClone(),
        };
        var ss = record["settings"]!;
        md.AppendLine(Str($"## Batch scoring ({ss["dim"]}/{ss["hidden"]}/{ss["latent"]}, {ss["threads"]} ORT threads, batch {ss["batch"]}, {ss["reps"]} interleaved repetitions; rows/s)"));
        md.AppendLine();
        var table = new Table("variant", "rows", "rows/s median", "min", "max", "GFLOP/s (share of peak)");
        double forward = ForwardFlops(ss);
        foreach (var (key, v) in record["rows_per_s"]!.AsObject())
            table.Add($"({key}) {v!["description"]}", ((int)v["rows"]!).ToString("N0", Inv), (double)v["median"]!, (double)v["min"]!, (double)v["max"]!,
                key == "source" ? "n/a (no VAE computed)" : Roofline.Format((double)v["median"]!, forward, peak));
        md.AppendLine(table.ToMarkdown());
        md.AppendLine(Str(
            $"**(a)/(b) ours / raw ORT: {Fmt(record["ratio_ours_vs_raw_ort"], "F3")}** (target ≥ {(double)record["target_ratio_raw"]!:F2}); " +
            $"**(a)/(c) ours / ApplyOnnxModel: {Fmt(record["ratio_ours_vs_apply_onnx"], "F1")}** (target ≥ {(double)record["target_ratio_apply"]!:F0}); ratios per repetition."));
        md.AppendLine();
    }

    /// <summary>Default threads vs one thread, idle and with every core busy (one table per ONNX Runtime thread setting).</summary>
    private static void Contention(List<JsonObject> records, JsonObject summary, StringBuilder md, double peak)
    {
        if (records.Count == 0)
            return;
        var cs = records[0]["settings"]!;
        md.AppendLine(Str($"## Threads on a shared machine ({cs["dim"]}/{cs["hidden"]}/{cs["latent"]}, {(int)cs["rows"]!:N0} training rows, {(int)cs["score_rows"]!:N0} scored rows, {cs["reps"]} interleaved repetitions; busy = {cs["busy_processes"]} other processes spinning)"));
        md.AppendLine();
        var table = new Table("ORT threads", "measurement", "rows/s median", "min", "max", "GFLOP/s (share of peak)");
        var json = new JsonArray();
        double trained = TrainedFlops(cs), forward = ForwardFlops(cs);
        foreach (var r in records)
        {
            foreach (var (key, v) in r["rows_per_s"]!.AsObject())
                table.Add((int)r["settings"]!["ort_threads"]!, key, (double)v!["median"]!, (double)v["min"]!, (double)v["max"]!,
                    Roofline.Format((double)v["median"]!, key.StartsWith("train", StringComparison.Ordinal) ? trained : forward, peak));
            json.Add(new JsonObject
            {
                ["ort_threads"] = (int)r["settings"]!["ort_threads"]!, ["openmp"] = (string?)r["openmp"], ["rows_per_s"] = r["rows_per_s"]!.DeepClone(),
                ["train_one_thread_over_default_idle"] = (double)r["train_one_thread_over_default_idle"]!,
                ["train_one_thread_over_default_busy"] = (double)r["train_one_thread_over_default_busy"]!,
            });
        }
        summary["contention"] = json;
        md.AppendLine(table.ToMarkdown());
        foreach (var r in records)
            md.AppendLine(Str($"ORT threads {r["settings"]!["ort_threads"]}: training with one thread / with the default threads: idle **{(double)r["train_one_thread_over_default_idle"]!:F2}**, busy **{(double)r["train_one_thread_over_default_busy"]!:F2}** (above 1: one thread is faster, i.e. the default is that many times slower; target: at most 1.25). OpenMP: {r["openmp"]}."));
        md.AppendLine();
    }

    /// <summary>Int8 against float32 scoring of one model: speed (with each precision's engine GEMM rate as its limit) and accuracy.</summary>
    private static void Precision(JsonObject? record, JsonObject summary, StringBuilder md, double peak)
    {
        if (record is null)
            return;
        var st = record["settings"]!;
        var gemm = record["ort_gemm_gflops"]!;
        double floatGemm = (double)gemm["float32"]!, int8Gemm = (double)gemm["int8"]!;
        md.AppendLine(Str($"## Int8 scoring ({st["dim"]}/{st["hidden"]}/{st["latent"]}, {st["threads"]} threads, batch {st["batch"]}, {(int)st["rows"]!:N0} rows, detector on {(int)st["detector_rows"]!:N0}, {st["reps"]} interleaved repetitions)"));
        md.AppendLine();
        md.AppendLine(Str($"ONNX Runtime's own GEMM (n = 2048) in this run: float32 {floatGemm:F0} GFLOP/s, int8 {int8Gemm:F0} GOP/s ({int8Gemm / floatGemm:F1}x). " +
                          $"Each row's share is of its precision's rate; the float32 rows are also given against the float32 peak ({peak:F0})."));
        md.AppendLine();
        var table = new Table("variant", "rows/s median", "min", "max", "G(FL)OP/s", "share of the engine's GEMM rate", "share of the float32 peak");
        foreach (var (key, v) in record["rows_per_s"]!.AsObject())
        {
            double rate = (double)v!["median"]!, flops = (double)v["flops_per_row"]!;
            bool int8 = (bool)v["int8"]!;
            double g = rate * flops / 1e9;
            table.Add($"({key}) {v["description"]}", rate, (double)v["min"]!, (double)v["max"]!, g.ToString("F0", CultureInfo.InvariantCulture),
                Str($"{100 * g / (int8 ? int8Gemm : floatGemm):F0}%"), int8 ? "" : Str($"{100 * g / peak:F0}%"));
        }
        md.AppendLine(table.ToMarkdown());
        var a = record["accuracy"]!;
        md.AppendLine(Str($"**int8 / float32 `Transform`: {Fmt(record["speedup_transform"], "F2")}** (target ≥ {(double)record["target_speedup"]!:F1}); " +
                          $"detector score {Fmt(record["speedup_detector"], "F2")}; raw ONNX Runtime, per row (the library's graphs) {Fmt(record["speedup_raw_per_row"], "F2")}, " +
                          $"per batch (`DynamicQuantizeMatMul`, not used: a row's outputs would depend on the rows beside it) {Fmt(record["speedup_raw_per_batch"], "F2")}; ratios per repetition."));
        md.AppendLine();
        md.AppendLine(Str($"Accuracy on held-out rows of the models' factor-model data: **Mu cosine mean {(double)a["mu_cosine_mean"]!:F5}** (min {(double)a["mu_cosine_min"]!:F5}; target ≥ 0.999), " +
                          $"reconstruction error relative difference median {(double)a["error_relative_difference_median"]!:E1}, p99 {(double)a["error_relative_difference_p99"]!:E1}; " +
                          $"ROC-AUC of shifted vs normal rows: reconstruction error {(double)a["auc_error_float32"]!:F4} → {(double)a["auc_error_int8"]!:F4}, " +
                          $"detector score {(double)a["auc_detector_float32"]!:F4} → {(double)a["auc_detector_int8"]!:F4}. The evaluation sets' AUCs: docs/evaluation.md."));
        md.AppendLine();
        summary["precision"] = new JsonObject
        {
            ["speedup_transform"] = record["speedup_transform"]!.DeepClone(),
            ["speedup_detector"] = record["speedup_detector"]!.DeepClone(),
            ["speedup_raw_per_row"] = record["speedup_raw_per_row"]!.DeepClone(),
            ["speedup_raw_per_batch"] = record["speedup_raw_per_batch"]!.DeepClone(),
            ["ort_gemm_gflops"] = gemm.DeepClone(),
            ["accuracy"] = a.DeepClone(),
            ["rows_per_s"] = record["rows_per_s"]!.DeepClone(),
        };
    }

    private static void Latency(JsonObject? record, JsonObject summary, StringBuilder md, double peak)
    {
        if (record is null)
            return;
        summary["latency"] = new JsonObject
        {
            ["stopwatch"] = record["stopwatch"]?.DeepClone(),
            ["benchmarkdotnet"] = record["benchmarkdotnet"]?.DeepClone(),
        };
        var ls = record["settings"]!;
        md.AppendLine(Str($"## Single-row latency ({ls["dim"]}/{ls["hidden"]}/{ls["latent"]}, {ls["threads"]} ORT threads, {(int)ls["calls"]!:N0} individually timed calls after {ls["warmup"]} warm-up calls; µs)"));
        md.AppendLine();
        var table = new Table("what", "p50", "p90", "p99", "max", "mean");
        foreach (var (key, v) in record["stopwatch"]!.AsObject())
            table.Add(key, F0(v!["p50_us"]), F0(v["p90_us"]), F0(v["p99_us"]), F0(v["max_us"]), F0(v["mean_us"]));
        md.AppendLine(table.ToMarkdown());
        double forward = ForwardFlops(ls);
        md.AppendLine("Roofline at p50 (one row per call): " + string.Join("; ", record["stopwatch"]!.AsObject()
            .Where(kv => kv.Value?["p50_us"] is not null)
            .Select(kv => $"{kv.Key} {Roofline.Format(1e6 / (double)kv.Value!["p50_us"]!, forward, peak)}")) + ". One row cannot fill the cores: this is the latency path, not the throughput one.");
        md.AppendLine();
        if (record["benchmarkdotnet"] is JsonObject bdn)
        {
            var t = new Table("BenchmarkDotNet (in-process)", "mean µs", "median µs", "P95 of iteration means µs", "stddev µs");
            foreach (var (key, v) in bdn)
                if (v is JsonObject o)
                    t.Add(key, F1(o["mean_us"]), F1(o["median_us"]), F1(o["p95_us"]), F1(o["stddev_us"]));
            md.AppendLine(t.ToMarkdown());
        }
        md.AppendLine();
    }

    // Program sets the invariant culture for the process; this only marks the intent.
    private static string Str(string s) => s;

    private static string Num(double? v) => v?.ToString("N0", Inv) ?? "n/a";
    private static string F0(JsonNode? v) => v is null ? "n/a" : ((double)v).ToString("F0", Inv);
    private static string F1(JsonNode? v) => v is null ? "n/a" : ((double)v).ToString("F1", Inv);

    private static string Fmt(JsonNode? spread, string format) =>
        spread is null ? "n/a" : new Spread((double)spread["median"]!, (double)spread["min"]!, (double)spread["max"]!, (int)spread["n"]!).Format(format);
}
