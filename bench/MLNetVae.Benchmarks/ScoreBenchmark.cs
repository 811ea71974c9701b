using System.Diagnostics;
using System.Numerics.Tensors;
using System.Text.Json.Nodes;
using Microsoft.ML;
using Microsoft.ML.Data;

namespace MLNetVae.Benchmarks;

/// <summary>
/// Batch scoring throughput, three ways over the same exported encoder/decoder, interleaved in one process:
/// (a) MLNetVae's <c>Transform</c> read through a cursor that consumes all four output columns;
/// (b) a hand-written ONNX Runtime loop (<see cref="RawOrtScorer"/>), the ceiling for (a);
/// (c) ML.NET's own <c>ApplyOnnxModel</c> (encoder, then decoder on mu), which runs ONNX Runtime once per row.
/// Diagnostics (same repetitions): the upstream source alone, (a) consuming only the error column, (a) over
/// <c>LoadFromEnumerable</c> instead of the minimal in-memory view, and (b) at batch 1 (the ceiling of any
/// row-at-a-time scorer, hence of (c)).
/// A custom harness rather than BenchmarkDotNet: each measurement is a 1–3 s pass over 100,000 rows that must be
/// interleaved with the others to cancel the drift of a shared 2-core machine, and ratios per repetition matter
/// more than a per-call distribution.
/// </summary>
internal static class ScoreBenchmark
{
    private sealed record Variant(string Key, string Description, int Rows, Func<double> Run);

    public static int Run(int rows, int applyOnnxRows, int reps, int threads, int dim, int hidden, int latent, double targetRaw, double targetApply, string resultsPath)
    {
        // MLNetVae reads this once, when it first scores: make its global ORT pool use the requested threads.
        Environment.SetEnvironmentVariable("MLNETVAE_ORT_THREADS", threads.ToString(System.Globalization.CultureInfo.InvariantCulture));
        Console.WriteLine($"score: {rows:N0} rows x {dim} ~ N(0,1), {dim}/{hidden}/{latent}, {threads} ORT threads, batch 1024, {reps} interleaved repetitions; ApplyOnnxModel on {applyOnnxRows:N0} rows");
        var record = ResultsFile.NewRecord("score", null);
        record["settings"] = new JsonObject
        {
            ["rows"] = rows, ["apply_onnx_rows"] = applyOnnxRows, ["reps"] = reps, ["threads"] = threads,
            ["dim"] = dim, ["hidden"] = hidden, ["latent"] = latent, ["batch"] = 1024,
        };

        using var fixture = new ScoringFixture(dim, hidden, latent, threads);
        var ml = fixture.Ml;
        long t0 = Stopwatch.GetTimestamp();
        var data = SyntheticData.Normal(rows, dim, seed: 1);
        var view = new DenseDataView(data, rows, dim);
        var enumerableView = EnumerableView(ml, data, rows, dim);
        Console.WriteLine($"data generated in {Timing.Seconds(t0):F1}s");

        var applyView = new DenseDataView(data, Math.Min(applyOnnxRows, rows), dim);
        ITransformer? applyModel = null;

        var errors = new float[rows];
        RawOrtScorer? raw = null, rawBatch1 = null;
        var variants = new List<Variant>
        {
            new("a", "MLNetVae Transform + cursor, all 4 outputs", rows, () => ConsumeAllOutputs(fixture.Model.Transform(view))),
            new("b", "raw ONNX Runtime loop, batch 1024", rows, () => raw!.Score(data, rows, errors)),
            new("c", "ML.NET ApplyOnnxModel (enc -> dec), cursor", applyView.GetRowCount()!.Value.ToInt(), () => ConsumeApplyOnnx(applyModel!.Transform(applyView), dim)),
            new("source", "diagnostic: source view alone (Features)", rows, () => ConsumeSource(view)),
            new("a-error", "diagnostic: Transform, ReconstructionError only", rows, () => ConsumeErrorOnly(fixture.Model.Transform(view))),
            new("a-enum", "diagnostic: Transform over LoadFromEnumerable", rows, () => ConsumeAllOutputs(fixture.Model.Transform(enumerableView))),
            new("b-batch1", "diagnostic: raw ONNX Runtime loop, batch 1", applyView.GetRowCount()!.Value.ToInt(), () => rawBatch1!.Score(data, applyView.GetRowCount()!.Value.ToInt(), errors)),
        };

        // Warm-up: MLNetVae first, so that it creates the process's OrtEnv with its global thread pool;
        // then the raw loop can share that pool (DisablePerSessionThreads needs it).
        t0 = Stopwatch.GetTimestamp();
        int warmupRows = Math.Min(4096, rows), warmupRowByRow = Math.Min(200, rows);
        ConsumeAllOutputs(fixture.Model.Transform(new DenseDataView(data, warmupRows, dim)));
        bool globalPool = UsesGlobalThreadPool();
        Console.WriteLine($"MLNetVae's ORT sessions share one global thread pool: {globalPool}");
        record["mlnetvae_global_ort_pool"] = globalPool;
        // (c) is built (model loading, sessions) once, outside the timed region, like MLNetVae's sessions; only now,
        // because creating an ONNX Runtime session creates the process's OrtEnv.
        applyModel = ml.Transforms.CopyColumns("features", "Features")
            .Append(ml.Transforms.ApplyOnnxModel(new[] { "mu", "logvar" }, new[] { "features" }, fixture.EncoderPath))
            .Append(ml.Transforms.CopyColumns("z", "mu"))
            .Append(ml.Transforms.ApplyOnnxModel(new[] { "reconstruction" }, new[] { "z" }, fixture.DecoderPath))
            .Fit(applyView);
        raw = new RawOrtScorer(fixture.EncoderPath, fixture.DecoderPath, dim, latent, 1024, threads);
        raw.Score(data, warmupRows, errors);
        // The same loop one row per call: what any row-at-a-time scorer (such as ApplyOnnxModel) can reach at best.
        rawBatch1 = new RawOrtScorer(fixture.EncoderPath, fixture.DecoderPath, dim, latent, 1, threads);
        rawBatch1.Score(data, warmupRowByRow, errors);
        ConsumeApplyOnnx(applyModel.Transform(new DenseDataView(data, warmupRowByRow, dim)), dim);
        ConsumeSource(new DenseDataView(data, warmupRows, dim));
        ConsumeErrorOnly(fixture.Model.Transform(new DenseDataView(data, warmupRows, dim)));
        Console.WriteLine($"warm-up took {Timing.Seconds(t0):F1}s");

        var loads = new List<double>();
        var rates = Timing.Interleave(variants.Select(v => (v.Key, v.Rows, v.Run)).ToList(), reps, () => loads.Add(ProcStatus.LoadAverage()));
        loads.Add(ProcStatus.LoadAverage());

        var ratioRaw = Spread.Of(rates["a"].Zip(rates["b"], (a, b) => a / b));
        var ratioApply = Spread.Of(rates["a"].Zip(rates["c"], (a, c) => a / c));
        var table = new Table("variant", "rows", "rows/s median", "min", "max", "vs (b) raw ORT");
        var bMedian = Spread.Of(rates["b"]).Median;
        foreach (var v in variants)
        {
            var s = Spread.Of(rates[v.Key]);
            table.Add($"({v.Key}) {v.Description}", v.Rows.ToString("N0", System.Globalization.CultureInfo.InvariantCulture), s.Median, s.Min, s.Max, (s.Median / bMedian).ToString("F2", System.Globalization.CultureInfo.InvariantCulture));
        }
        Console.WriteLine();
        Console.WriteLine(table);
        Console.WriteLine($"(a)/(b) ours / raw ORT, per repetition: median {ratioRaw.Format("F3")} (target >= {targetRaw:F2}: {(ratioRaw.Median >= targetRaw ? "PASS" : "FAIL")})");
        Console.WriteLine($"(a)/(c) ours / ApplyOnnxModel, per repetition: median {ratioApply.Format("F1")} (target >= {targetApply:F0}: {(ratioApply.Median >= targetApply ? "PASS" : "FAIL")})");
        Console.WriteLine($"load average during the repetitions: {string.Join(" → ", loads.Select(l => l.ToString("F2", System.Globalization.CultureInfo.InvariantCulture)))}");

        var variantsJson = new JsonObject();
        foreach (var v in variants)
        {
            var s = Spread.Of(rates[v.Key]).ToJson();
            s["description"] = v.Description;
            s["rows"] = v.Rows;
            s["values"] = ResultsFile.Array(rates[v.Key]);
            variantsJson[v.Key] = s;
        }
        record["rows_per_s"] = variantsJson;
        record["ratio_ours_vs_raw_ort"] = ratioRaw.ToJson();
        record["ratio_ours_vs_apply_onnx"] = ratioApply.ToJson();
        record["target_ratio_raw"] = targetRaw;
        record["target_ratio_apply"] = targetApply;
        record["load_avg"] = ResultsFile.Array(loads);
        ResultsFile.Append(resultsPath, record);

        raw.Dispose();
        rawBatch1.Dispose();
        (applyModel as IDisposable)?.Dispose();
        return 0;
    }

    private static int ToInt(this long value) => checked((int)value);

    /// <summary>MLNetVae's internal flag (read by reflection): whether its sessions run on the one global ORT pool.</summary>
    internal static bool UsesGlobalThreadPool() =>
        (bool)(typeof(VaeEstimator).Assembly.GetType("MLNetVae.Scoring.OnnxRuntimeSessions", throwOnError: true)!
            .GetProperty("UsesGlobalThreadPool", System.Reflection.BindingFlags.Public | System.Reflection.BindingFlags.Static)!
            .GetValue(null)!);

    internal static double ConsumeAllOutputs(IDataView scored)
    {
        var schema = scored.Schema;
        var columns = new[] { schema["Mu"], schema["LogVar"], schema["Reconstruction"], schema["ReconstructionError"] };
        using var cursor = scored.GetRowCursor(columns);
        var mu = cursor.GetGetter<VBuffer<float>>(columns[0]);
        var logVar = cursor.GetGetter<VBuffer<float>>(columns[1]);
        var reconstruction = cursor.GetGetter<VBuffer<float>>(columns[2]);
        var error = cursor.GetGetter<float>(columns[3]);
        VBuffer<float> m = default, lv = default, r = default;
        float e = 0;
        double checksum = 0;
        while (cursor.MoveNext())
        {
            mu(ref m);
            logVar(ref lv);
            reconstruction(ref r);
            error(ref e);
            checksum += e + m.GetValues()[0] + lv.GetValues()[0] + r.GetValues()[0];
        }
        return checksum;
    }

    private static double ConsumeErrorOnly(IDataView scored) => ConsumeScalar(scored, "ReconstructionError");

    /// <summary>Reads one Single column of every row (the error column here, the detector's score in the precision part).</summary>
    internal static double ConsumeScalar(IDataView scored, string columnName)
    {
        var column = scored.Schema[columnName];
        using var cursor = scored.GetRowCursor(new[] { column });
        var getter = cursor.GetGetter<float>(column);
        float value = 0;
        double checksum = 0;
        while (cursor.MoveNext())
        {
            getter(ref value);
            checksum += value;
        }
        return checksum;
    }

    private static double ConsumeSource(IDataView view)
    {
        var column = view.Schema["Features"];
        using var cursor = view.GetRowCursor(new[] { column });
        var features = cursor.GetGetter<VBuffer<float>>(column);
        VBuffer<float> x = default;
        double checksum = 0;
        while (cursor.MoveNext())
        {
            features(ref x);
            checksum += x.GetValues()[0];
        }
        return checksum;
    }

    /// <summary>Reads mu, logvar and the reconstruction of ApplyOnnxModel's output and computes the per-row MSE here.</summary>
    private static double ConsumeApplyOnnx(IDataView scored, int dim)
    {
        var schema = scored.Schema;
        var columns = new[] { schema["Features"], schema["mu"], schema["logvar"], schema["reconstruction"] };
        using var cursor = scored.GetRowCursor(columns);
        var features = cursor.GetGetter<VBuffer<float>>(columns[0]);
        var mu = cursor.GetGetter<VBuffer<float>>(columns[1]);
        var logVar = cursor.GetGetter<VBuffer<float>>(columns[2]);
        var reconstruction = cursor.GetGetter<VBuffer<float>>(columns[3]);
        VBuffer<float> x = default, m = default, lv = default, r = default;
        var difference = new float[dim];
        double checksum = 0;
        while (cursor.MoveNext())
        {
            features(ref x);
            mu(ref m);
            logVar(ref lv);
            reconstruction(ref r);
            TensorPrimitives.Subtract(x.GetValues(), r.GetValues(), difference);
            checksum += TensorPrimitives.SumOfSquares<float>(difference) / dim + m.GetValues()[0] + lv.GetValues()[0];
        }
        return checksum;
    }

    internal sealed class Row
    {
        public float[] Features { get; set; } = Array.Empty<float>();
    }

    /// <summary>The same rows through ML.NET's LoadFromEnumerable, the way many applications feed in-memory data.</summary>
    private static IDataView EnumerableView(MLContext ml, float[] data, int rows, int dim)
    {
        var items = new Row[rows];
        for (int i = 0; i < rows; i++)
            items[i] = new Row { Features = data.AsSpan(i * dim, dim).ToArray() };
        var schema = SchemaDefinition.Create(typeof(Row));
        schema[nameof(Row.Features)].ColumnType = new VectorDataViewType(NumberDataViewType.Single, dim);
        return ml.Data.LoadFromEnumerable(items, schema);
    }
}
