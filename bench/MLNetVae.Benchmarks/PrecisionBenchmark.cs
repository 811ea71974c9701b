using System.Diagnostics;
using System.Globalization;
using System.Numerics.Tensors;
using System.Text.Json.Nodes;
using Google.Protobuf;
using Microsoft.ML;
using Microsoft.ML.Data;
using Microsoft.ML.OnnxRuntime;
using MLNetVae.Onnx;

namespace MLNetVae.Benchmarks;

/// <summary>
/// Int8 against float32 scoring of one trained model, interleaved in one process: the featurizer's <c>Transform</c>
/// (all four outputs), the detector's score, and the raw ONNX Runtime graphs — the library's per-row int8 graphs and,
/// as the alternative that was not taken, ONNX Runtime's <c>DynamicQuantizeMatMul</c> (one activation scale per batch).
/// Then the accuracy of int8 on held-out rows of the model's own distribution: cosine similarity of Mu, relative
/// difference of the reconstruction error, and that the error still ranks shifted rows above normal ones. Also the
/// GEMM rates of ONNX Runtime itself in float32 and int8 (the engine's own limit for each precision).
/// </summary>
/// <remarks>
/// The model is trained on rows of a 32-factor linear model plus noise (not N(0,1) noise), so that its latent means and
/// reconstructions carry structure and the accuracy figures mean something; the speed does not depend on the values.
/// </remarks>
internal static class PrecisionBenchmark
{
    private sealed record Variant(string Key, string Description, int Rows, double FlopsPerRow, bool Int8, Func<double> Run);

    public static int Run(int rows, int detectorRows, int reps, int threads, int dim, int hidden, int latent, int trainRows, int epochs,
        double targetSpeedup, string resultsPath)
    {
        Environment.SetEnvironmentVariable("MLNETVAE_ORT_THREADS", threads.ToString(CultureInfo.InvariantCulture));
        Console.WriteLine($"precision: {rows:N0} rows x {dim}, {dim}/{hidden}/{latent}, {threads} ORT threads, batch 1024, {reps} interleaved repetitions; detector on {detectorRows:N0} rows");
        var record = ResultsFile.NewRecord("precision", null);
        record["settings"] = new JsonObject
        {
            ["rows"] = rows, ["detector_rows"] = detectorRows, ["reps"] = reps, ["threads"] = threads, ["dim"] = dim, ["hidden"] = hidden,
            ["latent"] = latent, ["train_rows"] = trainRows, ["epochs"] = epochs, ["batch"] = 1024,
        };

        var ml = new MLContext(seed: 1);
        long t0 = Stopwatch.GetTimestamp();
        var factors = new FactorModel(dim, factors: 32, noise: 0.1f, seed: 3);
        var training = factors.Rows(trainRows, seed: 4);
        var trainView = new DenseDataView(training, trainRows, dim);
        var featurizerOptions = new VaeOptions { HiddenDim = hidden, LatentDim = latent, Epochs = epochs, NumberOfThreads = threads, Seed = 0 };
        using var float32 = ml.Transforms.VariationalAutoencoder(featurizerOptions).Fit(trainView);
        using var int8 = float32.WithScoringPrecision(VaeScoringPrecision.Int8);
        var detectorOptions = new VaeAnomalyOptions { HiddenDim = hidden, LatentDim = latent, Epochs = epochs, NumberOfThreads = threads, Seed = 0 };
        using var detector32 = ml.AnomalyDetection.Trainers.VariationalAutoencoder(detectorOptions).Fit(trainView);
        using var detector8 = detector32.WithScoringPrecision(VaeScoringPrecision.Int8);
        Console.WriteLine($"models: featurizer and detector ({detector32.ScoreKind}, {detector32.Options.MonteCarloSamples} draws), {epochs} epochs on {trainRows:N0} factor-model rows, in {Timing.Seconds(t0):F1}s");

        var data = SyntheticData.Normal(rows, dim, seed: 1);
        var view = new DenseDataView(data, rows, dim);
        var detectorView = new DenseDataView(data, Math.Min(rows, detectorRows), dim);
        int detectorCount = (int)detectorView.GetRowCount()!.Value;

        string dir = Path.Combine(Path.GetTempPath(), "mlnetvae-precision-" + Environment.ProcessId);
        Directory.CreateDirectory(dir);
        var graphs = ExportGraphs(float32, dir);
        var errors = new float[rows];
        double forward = Roofline.ForwardFlopsPerRow(dim, hidden, latent);
        int draws = detector32.Options.MonteCarloSamples;
        // The detector's score: one encoder pass and a decoder pass per draw.
        double detectorFlops = EncoderFlops(dim, hidden, latent) + draws * (forward - EncoderFlops(dim, hidden, latent));

        RawOrtScorer? rawFloat = null, rawInt8 = null, rawPerBatch = null;
        var variants = new List<Variant>
        {
            new("f32", "Transform, float32, all 4 outputs", rows, forward, false, () => ScoreBenchmark.ConsumeAllOutputs(float32.Transform(view))),
            new("i8", "Transform, int8, all 4 outputs", rows, forward, true, () => ScoreBenchmark.ConsumeAllOutputs(int8.Transform(view))),
            new("det-f32", $"detector score, float32 ({draws} draws)", detectorCount, detectorFlops, false, () => ConsumeScores(detector32.Transform(detectorView))),
            new("det-i8", $"detector score, int8 ({draws} draws)", detectorCount, detectorFlops, true, () => ConsumeScores(detector8.Transform(detectorView))),
            new("raw-f32", "raw ONNX Runtime, float32 graphs", rows, forward, false, () => rawFloat!.Score(data, rows, errors)),
            new("raw-i8", "raw ONNX Runtime, int8 per row (the library's)", rows, forward, true, () => rawInt8!.Score(data, rows, errors)),
            new("raw-i8-batch", "raw ONNX Runtime, int8 per batch (DynamicQuantizeMatMul; not used)", rows, forward, true, () => rawPerBatch!.Score(data, rows, errors)),
        };

        // Warm-up: the library first, so that it creates the process's OrtEnv with its global pool (the raw loops share it).
        int warmup = Math.Min(4096, rows);
        ScoreBenchmark.ConsumeAllOutputs(float32.Transform(new DenseDataView(data, warmup, dim)));
        ScoreBenchmark.ConsumeAllOutputs(int8.Transform(new DenseDataView(data, warmup, dim)));
        ConsumeScores(detector32.Transform(new DenseDataView(data, Math.Min(512, rows), dim)));
        ConsumeScores(detector8.Transform(new DenseDataView(data, Math.Min(512, rows), dim)));
        rawFloat = new RawOrtScorer(graphs.FloatEncoder, graphs.FloatDecoder, dim, latent, 1024, threads);
        rawInt8 = new RawOrtScorer(graphs.Int8Encoder, graphs.Int8Decoder, dim, latent, 1024, threads);
        rawPerBatch = new RawOrtScorer(graphs.PerBatchEncoder, graphs.PerBatchDecoder, dim, latent, 1024, threads);
        foreach (var raw in new[] { rawFloat, rawInt8, rawPerBatch })
            raw.Score(data, warmup, errors);

        var rates = Timing.Interleave(variants.Select(v => (v.Key, v.Rows, v.Run)).ToList(), reps);

        var (floatGemm, int8Gemm) = GemmRates(dir, threads);
        Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
            $"ONNX Runtime GEMM (n = 2048, best of 8): float32 {floatGemm:F0} GFLOP/s, int8 {int8Gemm:F0} GOP/s ({int8Gemm / floatGemm:F1}x)"));

        var table = new Table("variant", "rows", "rows/s median", "min", "max", "G(FL)OP/s", "% of engine peak");
        foreach (var v in variants)
        {
            var s = Spread.Of(rates[v.Key]);
            double g = s.Median * v.FlopsPerRow / 1e9;
            double peak = v.Int8 ? int8Gemm : floatGemm;
            table.Add($"({v.Key}) {v.Description}", v.Rows.ToString("N0", CultureInfo.InvariantCulture), s.Median, s.Min, s.Max,
                g.ToString("F0", CultureInfo.InvariantCulture), (100 * g / peak).ToString("F0", CultureInfo.InvariantCulture));
        }
        Console.WriteLine();
        Console.WriteLine(table);
        var speedup = Spread.Of(rates["i8"].Zip(rates["f32"], (a, b) => a / b));
        var detectorSpeedup = Spread.Of(rates["det-i8"].Zip(rates["det-f32"], (a, b) => a / b));
        var rawSpeedup = Spread.Of(rates["raw-i8"].Zip(rates["raw-f32"], (a, b) => a / b));
        var perBatchSpeedup = Spread.Of(rates["raw-i8-batch"].Zip(rates["raw-f32"], (a, b) => a / b));
        Console.WriteLine($"int8 / float32 Transform, per repetition: median {speedup.Format("F2")} (target >= {targetSpeedup:F1}: {(speedup.Median >= targetSpeedup ? "PASS" : "FAIL")})");
        Console.WriteLine($"int8 / float32 detector score: {detectorSpeedup.Format("F2")}; raw ONNX Runtime per row: {rawSpeedup.Format("F2")}, per batch: {perBatchSpeedup.Format("F2")}");

        var accuracy = Accuracy(ml, float32, int8, detector32, detector8, factors, dim);
        Console.WriteLine(accuracy.Summary);

        var variantsJson = new JsonObject();
        foreach (var v in variants)
        {
            var s = Spread.Of(rates[v.Key]).ToJson();
            s["description"] = v.Description;
            s["rows"] = v.Rows;
            s["flops_per_row"] = v.FlopsPerRow;
            s["int8"] = v.Int8;
            s["values"] = ResultsFile.Array(rates[v.Key]);
            variantsJson[v.Key] = s;
        }
        record["rows_per_s"] = variantsJson;
        record["speedup_transform"] = speedup.ToJson();
        record["speedup_detector"] = detectorSpeedup.ToJson();
        record["speedup_raw_per_row"] = rawSpeedup.ToJson();
        record["speedup_raw_per_batch"] = perBatchSpeedup.ToJson();
        record["target_speedup"] = targetSpeedup;
        record["ort_gemm_gflops"] = new JsonObject { ["float32"] = floatGemm, ["int8"] = int8Gemm };
        record["accuracy"] = accuracy.Json;
        ResultsFile.Append(resultsPath, record);

        rawFloat.Dispose();
        rawInt8.Dispose();
        rawPerBatch.Dispose();
        try { Directory.Delete(dir, recursive: true); } catch (IOException) { }
        return 0;
    }

    private static double EncoderFlops(int dim, int hidden, int latent) => 2.0 * ((double)dim * hidden + (double)hidden * hidden + hidden * 2.0 * latent);

    private sealed record Graphs(string FloatEncoder, string FloatDecoder, string Int8Encoder, string Int8Decoder, string PerBatchEncoder, string PerBatchDecoder);

    private static Graphs ExportGraphs(VaeTransformer model, string dir)
    {
        string Write(string name, global::Onnx.ModelProto graph)
        {
            string path = Path.Combine(dir, name);
            File.WriteAllBytes(path, graph.ToByteArray());
            return path;
        }
        var w = model.Weights;
        var graphs = new Graphs(
            Write("encoder-f32.onnx", VaeOnnxExporter.BuildEncoder(w)), Write("decoder-f32.onnx", VaeOnnxExporter.BuildDecoder(w)),
            Write("encoder-i8.onnx", VaeOnnxExporter.BuildEncoder(w, null, VaeScoringPrecision.Int8)),
            Write("decoder-i8.onnx", VaeOnnxExporter.BuildDecoder(w, null, VaeScoringPrecision.Int8)),
            Write("encoder-i8-batch.onnx", Int8LinearNodes.WithPerBatchActivations(() => VaeOnnxExporter.BuildEncoder(w, null, VaeScoringPrecision.Int8))),
            Write("decoder-i8-batch.onnx", Int8LinearNodes.WithPerBatchActivations(() => VaeOnnxExporter.BuildDecoder(w, null, VaeScoringPrecision.Int8))));
        return graphs;
    }

    private static double ConsumeScores(IDataView scored) => ScoreBenchmark.ConsumeScalar(scored, "Score");

    private sealed record AccuracyResult(string Summary, JsonObject Json);

    /// <summary>
    /// Int8 against float32 on 10,000 held-out rows of the training distribution plus 500 rows shifted off it along random
    /// directions: Mu's cosine similarity, the relative difference of the reconstruction
    /// error, and the ROC-AUC of the reconstruction error and the detector's score separating shifted from normal rows.
    /// </summary>
    private static AccuracyResult Accuracy(MLContext ml, VaeTransformer float32, VaeTransformer int8, VaeAnomalyTransformer detector32,
        VaeAnomalyTransformer detector8, FactorModel factors, int dim)
    {
        const int normalRows = 10_000, shiftedRows = 500;
        const float ShiftPerFeature = 0.1f;
        var normal = factors.Rows(normalRows, seed: 11);
        // Small shifts (the size of the noise per feature), so that the AUCs are below 1 and a change is visible.
        var shifted = factors.ShiftedRows(shiftedRows, distance: ShiftPerFeature, seed: 12);
        var all = normal.Concat(shifted).ToArray();
        int n = normalRows + shiftedRows;
        var view = new DenseDataView(all, n, dim);
        var labels = Enumerable.Range(0, n).Select(i => i >= normalRows).ToArray();

        var (mu32, err32) = ReadMuAndError(float32.Transform(view));
        var (mu8, err8) = ReadMuAndError(int8.Transform(view));
        var cosines = new double[n];
        var relative = new double[n];
        for (int i = 0; i < n; i++)
        {
            cosines[i] = TensorPrimitives.CosineSimilarity<float>(mu32[i], mu8[i]);
            relative[i] = Math.Abs(err8[i] - err32[i]) / Math.Max(1e-12, Math.Abs(err32[i]));
        }
        var score32 = ReadScores(detector32.Transform(view));
        var score8 = ReadScores(detector8.Transform(view));
        Array.Sort(relative);
        double meanCosine = cosines.Average(), minCosine = cosines.Min();
        double auc32 = RocAuc(ml, err32, labels), auc8 = RocAuc(ml, err8, labels);
        double detAuc32 = RocAuc(ml, score32, labels), detAuc8 = RocAuc(ml, score8, labels);
        string summary = string.Create(CultureInfo.InvariantCulture,
            $"accuracy of int8 ({normalRows:N0} held-out rows + {shiftedRows} shifted by {ShiftPerFeature} per feature): Mu cosine mean {meanCosine:F5} (target >= 0.999: {(meanCosine >= 0.999 ? "PASS" : "FAIL")}), min {minCosine:F5}; " +
            $"reconstruction error relative difference median {Spread.Percentile(relative, 50):E2}, p99 {Spread.Percentile(relative, 99):E2}; " +
            $"ROC-AUC shifted vs normal: reconstruction error {auc32:F4} -> {auc8:F4}, detector score {detAuc32:F4} -> {detAuc8:F4}");
        var json = new JsonObject
        {
            ["mu_cosine_mean"] = meanCosine, ["mu_cosine_min"] = minCosine,
            ["error_relative_difference_median"] = Spread.Percentile(relative, 50), ["error_relative_difference_p99"] = Spread.Percentile(relative, 99),
            ["auc_error_float32"] = auc32, ["auc_error_int8"] = auc8, ["auc_detector_float32"] = detAuc32, ["auc_detector_int8"] = detAuc8,
        };
        return new AccuracyResult(summary, json);
    }

    private static (float[][] Mu, float[] Error) ReadMuAndError(IDataView scored)
    {
        var mu = scored.GetColumn<VBuffer<float>>("Mu").Select(v => v.DenseValues().ToArray()).ToArray();
        var error = scored.GetColumn<float>("ReconstructionError").ToArray();
        return (mu, error);
    }

    private static float[] ReadScores(IDataView scored) => scored.GetColumn<float>("Score").ToArray();

    private sealed class ScoredRow
    {
        public float Label { get; set; }
        public float Score { get; set; }
        public bool PredictedLabel { get; set; }
    }

    /// <summary>ROC-AUC from ML.NET's anomaly evaluator (it needs a PredictedLabel column; the AUC does not read it).</summary>
    private static double RocAuc(MLContext ml, float[] scores, bool[] positive) =>
        ml.AnomalyDetection.Evaluate(ml.Data.LoadFromEnumerable(scores.Select((s, i) => new ScoredRow { Label = positive[i] ? 1 : 0, Score = s }))).AreaUnderRocCurve;

    /// <summary>
    /// ONNX Runtime's own GEMM rate for each precision (n = 2048, best of 8 after one warm-up run, the run's pool): float32 <c>Gemm</c> and
    /// int8 <c>MatMulIntegerToFloat</c> (uint8 × int8, the kernel the int8 graphs use). What "% of engine peak" divides by.
    /// </summary>
    private static (double Float32, double Int8) GemmRates(string dir, int threads)
    {
        const int n = 2048;
        var random = new Random(5);
        double Rate(bool int8)
        {
            var g = new OnnxGraphBuilder("gemm", "GEMM rate");
            g.AddInput("a", n);
            g.AddOutput("y", n);
            if (int8)
            {
                var w = new sbyte[n * n];
                for (int i = 0; i < w.Length; i++) w[i] = (sbyte)random.Next(-127, 128);
                g.AddInt8Initializer("w", w, n, n);
                g.AddFloatInitializer("scale", [1f / 127]);
                g.AddUInt8Initializer("zero", [(byte)128]);
                g.AddNode("QuantizeLinear", "q", ["a", "scale", "zero"], "aq");
                g.AddMicrosoftNode("MatMulIntegerToFloat", "mm", ["aq", "w", "scale", "scale", "zero"], "y");
            }
            else
            {
                var w = new float[n * n];
                for (int i = 0; i < w.Length; i++) w[i] = (float)(random.NextDouble() - 0.5);
                g.AddFloatInitializer("w", w, n, n);
                g.AddNode("Gemm", "mm", ["a", "w"], "y");
            }
            var model = VaeOnnxExporter.BareModel(g.Graph);
            using var options = new SessionOptions { GraphOptimizationLevel = GraphOptimizationLevel.ORT_ENABLE_ALL };
            options.DisablePerSessionThreads();
            using var session = new InferenceSession(model.ToByteArray(), options);
            var a = new float[n * n];
            for (int i = 0; i < a.Length; i++) a[i] = (float)(random.NextDouble() * 2 - 1);
            var y = new float[n * n];
            using var run = new RunOptions();
            double best = 0;
            for (int rep = 0; rep < 9; rep++)
            {
                using var input = OrtValue.CreateTensorValueFromMemory(OrtMemoryInfo.DefaultInstance, a.AsMemory(), new long[] { n, n });
                using var output = OrtValue.CreateTensorValueFromMemory(OrtMemoryInfo.DefaultInstance, y.AsMemory(), new long[] { n, n });
                long start = Stopwatch.GetTimestamp();
                session.Run(run, ["a"], [input], ["y"], [output]);
                double seconds = Timing.Seconds(start);
                if (rep > 0) // the first run packs the weights
                    best = Math.Max(best, 2.0 * n * n * (double)n / seconds / 1e9);
            }
            return best;
        }
        RawOrtScorer.EnsureGlobalThreadPool(threads);
        return (Rate(int8: false), Rate(int8: true));
    }
}

/// <summary>
/// Rows of a linear factor model, <c>x = A f + noise</c> with <c>f ~ N(0, I)</c>: data with a low-dimensional structure a
/// VAE can learn, so that its latent means and reconstructions are not noise.
/// </summary>
internal sealed class FactorModel
{
    private readonly float[] loadings; // [dim, factors]
    private readonly int dim, factors;
    private readonly float noise;

    public FactorModel(int dim, int factors, float noise, int seed)
    {
        this.dim = dim;
        this.factors = factors;
        this.noise = noise;
        loadings = SyntheticData.Normal(dim, factors, seed);
        float scale = 1 / MathF.Sqrt(factors);
        for (int i = 0; i < loadings.Length; i++)
            loadings[i] *= scale; // each feature has variance ~1 + noise²
    }

    public float[] Rows(int rows, int seed)
    {
        var f = SyntheticData.Normal(rows, factors, seed);
        var e = SyntheticData.Normal(rows, dim, seed + 1000);
        var x = new float[(long)rows * dim];
        for (int r = 0; r < rows; r++)
        {
            var fr = f.AsSpan(r * factors, factors);
            for (int d = 0; d < dim; d++)
                x[(long)r * dim + d] = TensorPrimitives.Dot<float>(loadings.AsSpan(d * factors, factors), fr) + noise * e[(long)r * dim + d];
        }
        return x;
    }

    /// <summary>Rows of the model moved along a random direction each, by <paramref name="distance"/> per feature (root mean square).</summary>
    public float[] ShiftedRows(int rows, float distance, int seed)
    {
        var x = Rows(rows, seed);
        var directions = SyntheticData.Normal(rows, dim, seed + 2000);
        for (int r = 0; r < rows; r++)
        {
            var d = directions.AsSpan(r * dim, dim);
            float norm = MathF.Sqrt(TensorPrimitives.SumOfSquares<float>(d));
            for (int k = 0; k < dim; k++)
                x[(long)r * dim + k] += distance * MathF.Sqrt(dim) * d[k] / norm;
        }
        return x;
    }
}
