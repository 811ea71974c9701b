using System.Globalization;
using System.Text;
using System.Text.Json.Nodes;
using ScottPlot;

namespace MLNetVae.Benchmarks;

/// <summary>The scaling part of the report: tables in the Markdown summary and two plots (PNG, ScottPlot) beside it.</summary>
internal static class ScalingReport
{
    private static readonly CultureInfo Inv = CultureInfo.InvariantCulture;

    public static void Train(List<JsonObject> records, JsonObject summary, StringBuilder md, string outputPrefix, double peak)
    {
        if (records.Count == 0)
            return;
        var rows = records.OrderBy(r => (int)r["settings"]!["rows"]!).ToList();
        var st = rows[0]["settings"]!;
        md.AppendLine(FormattableString.Invariant(
            $"## Scaling: training ({st["dim"]}/{st["hidden"]}/{st["latent"]}, batch {st["batch"]}, {st["threads"]} threads, {st["epochs"]} epoch(s), rows streamed from a {(int)st["pool_rows"]!:N0}-row pool, one fresh process per size)"));
        md.AppendLine();
        var table = new Table("rows", "Fit s", "epoch samples/s", "GFLOP/s (share of peak)", "reading + set-up + statistics s", "data MiB (float32)", "RSS before Fit MiB", "peak during Fit MiB", "peak added MiB", "added / data");
        double trained = Roofline.TrainedFlopsPerRow((int)st["dim"]!, (int)st["hidden"]!, (int)st["latent"]!);
        var json = new JsonArray();
        foreach (var r in rows)
        {
            double wall = (double)r["fit_wall_s"]!, epoch = (double)r["epoch_s"]!, data = (double)r["data_mib"]!, added = (double)r["peak_added_mib"]!;
            table.Add(((int)r["settings"]!["rows"]!).ToString("N0", Inv), wall.ToString("F1", Inv), (double)r["samples_per_s"]!,
                Roofline.Format((double)r["samples_per_s"]!, trained, peak), (wall - epoch).ToString("F1", Inv),
                data, (double)r["rss_before_mib"]!, (double)r["peak_mib"]!, added, (added / data).ToString("F2", Inv));
            json.Add(new JsonObject
            {
                ["rows"] = (int)r["settings"]!["rows"]!, ["fit_wall_s"] = wall, ["epoch_s"] = epoch, ["samples_per_s"] = (double)r["samples_per_s"]!,
                ["data_mib"] = data, ["peak_added_mib"] = added, ["peak_mib"] = (double)r["peak_mib"]!, ["peak_reset"] = (bool?)r["peak_reset"],
            });
        }
        summary["scale_train"] = json;
        md.AppendLine(table.ToMarkdown());

        string png = outputPrefix + "-scaling-train.png";
        var plot = new Plot();
        double[] x = rows.Select(r => Math.Log10((int)r["settings"]!["rows"]!)).ToArray();
        AddSeries(plot, x, rows.Select(r => (double)r["fit_wall_s"]!), Colors.SteelBlue, "Fit time (s)");
        AddSeries(plot, x, rows.Select(r => Math.Max(1, (double)r["peak_added_mib"]!)), Colors.Crimson, "peak memory added by Fit (MiB)");
        AddSeries(plot, x, rows.Select(r => (double)r["data_mib"]!), Colors.Gray, "one float32 copy of the data (MiB)", dashed: true, markers: false);
        LogAxis(plot.Axes.Bottom, "N0");
        LogAxis(plot.Axes.Left, "N0");
        Finish(plot, FormattableString.Invariant($"Training {st["dim"]}/{st["hidden"]}/{st["latent"]}, {st["epochs"]} epoch, {st["threads"]} threads: cost vs rows (log-log)"),
            "Training rows", "seconds / MiB", Alignment.UpperLeft, png, "training time and memory vs rows", md);
    }

    /// <summary>
    /// Streaming vs in-memory training at the same size, and training from a binary file larger than memory: time,
    /// samples/s (and GFLOP/s: 6 multiply-adds per weight per trained row), the peak memory added, against the targets
    /// (streaming adds at most 768 MiB and keeps at least 0.8x the in-memory samples/s).
    /// </summary>
    public static void Streaming(List<JsonObject> records, JsonObject summary, StringBuilder md, double peak)
    {
        if (records.Count == 0)
            return;
        var st = records[0]["settings"]!;
        int dim = (int)st["dim"]!, hidden = (int)st["hidden"]!, latent = (int)st["latent"]!;
        double flopsPerRow = Roofline.TrainedFlopsPerRow(dim, hidden, latent);
        md.AppendLine(FormattableString.Invariant(
            $"## Streaming training ({dim}/{hidden}/{latent}, batch {st["batch"]}, {st["threads"]} threads, {st["epochs"]} epoch(s), one fresh process per row; GFLOP/s at {flopsPerRow / 1e6:F1} MFLOP per trained row, share of the {peak:F0} GFLOP/s float32 peak)"));
        md.AppendLine();
        var table = new Table("rows", "source", "MaxInMemoryTrainingBytes", "path", "Fit s", "epoch samples/s", "GFLOP/s", "% of peak",
            "data MiB", "peak added MiB", "added / data");
        var json = new JsonArray();
        foreach (var r in records)
        {
            var settings = r["settings"]!;
            double added = (double)r["peak_added_mib"]!, data = (double)r["data_mib"]!, rate = (double)r["samples_per_s"]!;
            long? budget = (long?)settings["max_in_memory_training_bytes"];
            bool streamed = (bool?)r["streamed"] ?? false;
            string source = (string?)settings["source_file"] is { } file ? $"binary file ({Path.GetFileName(file)})" : "in-memory view";
            string path = streamed ? $"streamed, {(int?)r["shuffle_buffer_rows"]:N0}-row buffer" : "in memory";
            double gflops = rate * flopsPerRow / 1e9;
            table.Add(((int)settings["rows"]!).ToString("N0", Inv), source, budget is { } b ? $"{b / (1024.0 * 1024):N0} MiB" : "default", path,
                ((double)r["fit_wall_s"]!).ToString("F1", Inv), rate, gflops.ToString("F0", Inv), (100 * gflops / peak).ToString("F0", Inv) + "%",
                data, added, (added / data).ToString("F2", Inv));
            json.Add(new JsonObject
            {
                ["rows"] = (int)settings["rows"]!, ["source_file"] = (string?)settings["source_file"], ["max_in_memory_training_bytes"] = budget,
                ["streamed"] = streamed, ["shuffle_buffer_rows"] = (int?)r["shuffle_buffer_rows"], ["fit_wall_s"] = (double)r["fit_wall_s"]!,
                ["samples_per_s"] = rate, ["gflops"] = gflops, ["peak_added_mib"] = added, ["data_mib"] = data,
            });
        }
        md.AppendLine(table.ToMarkdown());

        // The pair at the same size from in-memory views: the ratio and the memory target.
        var pair = records.Where(r => (string?)r["settings"]!["source_file"] is null).GroupBy(r => (int)r["settings"]!["rows"]!)
            .Select(g => (Rows: g.Key, Memory: g.LastOrDefault(r => !((bool?)r["streamed"] ?? false)), Streamed: g.LastOrDefault(r => (bool?)r["streamed"] ?? false)))
            .LastOrDefault(p => p.Memory is not null && p.Streamed is not null);
        if (pair.Memory is not null)
        {
            double ratio = (double)pair.Streamed!["samples_per_s"]! / (double)pair.Memory["samples_per_s"]!;
            double added = (double)pair.Streamed["peak_added_mib"]!;
            md.AppendLine(FormattableString.Invariant(
                $"At {pair.Rows:N0} rows streaming keeps **{ratio:F2}x** the in-memory samples/s (target ≥ 0.8) and adds **{added:N0} MiB** to the peak (target ≤ 768 MiB; in memory {(double)pair.Memory["peak_added_mib"]!:N0} MiB)."));
            md.AppendLine();
            summary["streaming_ratio"] = ratio;
            summary["streaming_peak_added_mib"] = added;
        }
        summary["stream_train"] = json;
    }

    public static void Score(JsonObject? record, JsonObject summary, StringBuilder md, string outputPrefix, double peak)
    {
        if (record is null)
            return;
        var st = record["settings"]!;
        md.AppendLine(FormattableString.Invariant(
            $"## Scaling: scoring by batch size ({st["dim"]}/{st["hidden"]}/{st["latent"]}, {st["threads"]} ORT threads, {st["reps"]} interleaved repetitions; rows/s, median [min – max])"));
        md.AppendLine();
        var batches = record["batches"]!.AsArray().Select(b => b!.AsObject()).ToList();
        var table = new Table("rows per ORT call", "rows", "Transform rows/s", "GFLOP/s (share of peak)", "raw ORT rows/s", "Transform / raw");
        double forward = Roofline.ForwardFlopsPerRow((int)st["dim"]!, (int)st["hidden"]!, (int)st["latent"]!);
        foreach (var b in batches)
            table.Add((int)b["batch"]!, ((int)b["rows"]!).ToString("N0", Inv), SpreadOf(b["transform_rows_per_s"]).Format(),
                Roofline.Format(SpreadOf(b["transform_rows_per_s"]).Median, forward, peak), SpreadOf(b["raw_ort_rows_per_s"]).Format(),
                SpreadOf(b["ratio"]).Format("F2"));
        md.AppendLine(table.ToMarkdown());

        var memory = record["memory"]!.AsArray().Select(m => m!.AsObject()).ToList();
        if (memory.Count > 0)
        {
            md.AppendLine("Peak memory of `Transform` (all four outputs read by a cursor, rows streamed from a fixed pool, VmHWM reset before each size):");
            md.AppendLine();
            var mt = new Table("rows", "seconds", "rows/s", "RSS before MiB", "peak MiB", "peak added MiB");
            foreach (var m in memory)
                mt.Add(((int)m["rows"]!).ToString("N0", Inv), ((double)m["seconds"]!).ToString("F1", Inv), (double)m["rows_per_s"]!,
                    (double)m["rss_before_mib"]!, (double)m["peak_mib"]!, (double)m["peak_added_mib"]!);
            md.AppendLine(mt.ToMarkdown());
        }
        summary["scale_score"] = new JsonObject { ["batches"] = record["batches"]!.DeepClone(), ["memory"] = record["memory"]!.DeepClone() };

        string png = outputPrefix + "-scaling-score.png";
        var plot = new Plot();
        double[] x = batches.Select(b => Math.Log10((int)b["batch"]!)).ToArray();
        // Rows/s on a linear axis (it spans less than a decade), batch sizes on a log axis.
        AddSeries(plot, x, batches.Select(b => SpreadOf(b["transform_rows_per_s"]).Median), Colors.SteelBlue, "MLNetVae Transform (all 4 outputs)", logY: false);
        AddSeries(plot, x, batches.Select(b => SpreadOf(b["raw_ort_rows_per_s"]).Median), Colors.DarkOrange, "raw ONNX Runtime loop", dashed: true, logY: false);
        LogAxis(plot.Axes.Bottom, "N0");
        plot.Axes.SetLimitsY(0, batches.Max(b => Math.Max(SpreadOf(b["transform_rows_per_s"]).Median, SpreadOf(b["raw_ort_rows_per_s"]).Median)) * 1.1);
        Finish(plot, FormattableString.Invariant($"Scoring {st["dim"]}/{st["hidden"]}/{st["latent"]}, {st["threads"]} threads: throughput vs rows per call"),
            "Rows per ONNX Runtime call (batch size)", "Rows per second", Alignment.LowerRight, png, "scoring throughput vs batch size", md);
    }

    /// <summary>Labels the plot, writes it as a 900 x 600 PNG and links it from the Markdown summary.</summary>
    private static void Finish(Plot plot, string title, string xLabel, string yLabel, Alignment legend, string png, string altText, StringBuilder md)
    {
        plot.Title(title);
        plot.XLabel(xLabel);
        plot.YLabel(yLabel);
        plot.ShowLegend(legend);
        plot.SavePng(png, 900, 600);
        md.AppendLine($"![{altText}]({Path.GetFileName(png)})");
        md.AppendLine();
    }

    /// <summary>A line with markers of <paramref name="values"/> (as log10 unless <paramref name="logY"/> is false) over <paramref name="x"/> (already log10).</summary>
    private static void AddSeries(Plot plot, double[] x, IEnumerable<double> values, Color color, string legend, bool dashed = false, bool markers = true, bool logY = true)
    {
        var series = plot.Add.Scatter(x, values.Select(v => logY ? Math.Log10(v) : v).ToArray(), color);
        series.LegendText = legend;
        series.LineWidth = 2;
        series.MarkerSize = markers ? 8 : 0;
        if (dashed)
            series.LinePattern = LinePattern.Dashed;
    }

    /// <summary>Data are plotted as log10(value); label the ticks with the values themselves.</summary>
    private static void LogAxis(ScottPlot.IAxis axis, string format) =>
        axis.TickGenerator = new ScottPlot.TickGenerators.NumericAutomatic
        {
            LabelFormatter = v => Math.Pow(10, v).ToString(format, Inv),
            MinorTickGenerator = new ScottPlot.TickGenerators.LogMinorTickGenerator(),
            IntegerTicksOnly = true,
        };

    private static Spread SpreadOf(JsonNode? s) => new((double)s!["median"]!, (double)s["min"]!, (double)s["max"]!, (int)s["n"]!);
}
