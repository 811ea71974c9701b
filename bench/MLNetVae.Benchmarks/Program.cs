using System.CommandLine;
using MLNetVae.Benchmarks;

// MLNetVae benchmarks. Every command prints a table and appends one JSON object to --results
// (default bench/results/results.jsonl). scripts/bench.sh builds Release once, runs the commands
// (training interleaved with the PyTorch reference in fresh processes) and writes bench/results/latest.{json,md}.

// Invariant number formatting in tables and files, whatever the machine's locale.
System.Globalization.CultureInfo.DefaultThreadCurrentCulture = System.Globalization.CultureInfo.InvariantCulture;
System.Globalization.CultureInfo.CurrentCulture = System.Globalization.CultureInfo.InvariantCulture;

var results = new Option<string>("--results") { Description = "JSON Lines file to append results to", DefaultValueFactory = _ => RepoPaths.DefaultResultsFile };
var threads = new Option<int>("--threads") { Description = "TorchSharp / ONNX Runtime threads", DefaultValueFactory = _ => 2 };
var dim = new Option<int>("--dim") { Description = "input features", DefaultValueFactory = _ => 768 };
var hidden = new Option<int>("--hidden") { Description = "hidden width", DefaultValueFactory = _ => 512 };
var latent = new Option<int>("--latent") { Description = "latent size", DefaultValueFactory = _ => 256 };
var batch = new Option<int>("--batch") { Description = "training batch size", DefaultValueFactory = _ => 256 };
var seed = new Option<int>("--seed") { Description = "data and training seed", DefaultValueFactory = _ => 0 };
var noClip = new Option<bool>("--no-grad-clip") { Description = "turn off the library's default gradient clipping (the PyTorch reference does not clip)" };

var root = new RootCommand("MLNetVae benchmarks: training throughput, training memory, batch scoring, single-row latency.");

// train
var trainRows = new Option<int>("--rows") { Description = "training rows ~ N(0,1)", DefaultValueFactory = _ => 50_000 };
var trainEpochs = new Option<int>("--epochs") { Description = "epochs per repetition", DefaultValueFactory = _ => 2 };
var trainReps = new Option<int>("--reps") { Description = "timed repetitions (each a fresh Fit) after the warm-up", DefaultValueFactory = _ => 3 };
var warmupRows = new Option<int>("--warmup-rows") { Description = "rows of the untimed warm-up Fit (2 epochs)", DefaultValueFactory = _ => 20 * 256 };
var round = new Option<int?>("--round") { Description = "round number, set by bench.sh to pair with the PyTorch run of the same round" };
var train = new Command("train", "Training throughput of VaeEstimator.Fit from an IDataView (samples/s).")
{
    trainRows, trainEpochs, trainReps, warmupRows, round, threads, dim, hidden, latent, batch, seed, noClip, results,
};
train.SetAction(p => TrainBenchmark.Run(
    new TrainSettings(p.GetValue(trainRows), p.GetValue(dim), p.GetValue(hidden), p.GetValue(latent), p.GetValue(batch), p.GetValue(threads), p.GetValue(seed), !p.GetValue(noClip)),
    p.GetValue(trainEpochs), p.GetValue(trainReps), p.GetValue(warmupRows), p.GetValue(round), p.GetValue(results)!));
root.Add(train);

// memory
var memRows = new Option<int>("--rows") { Description = "training rows", DefaultValueFactory = _ => 50_000 };
var memEpochs = new Option<int>("--epochs") { Description = "epochs of the one Fit", DefaultValueFactory = _ => 10 };
var checkpoint = new Option<int>("--checkpoint") { Description = "epoch whose peak is the baseline of the ratio", DefaultValueFactory = _ => 2 };
var memTarget = new Option<double>("--target") { Description = "largest acceptable peak@epochs / peak@checkpoint", DefaultValueFactory = _ => 1.15 };
var collectEachEpoch = new Option<bool>("--collect-each-epoch") { Description = "diagnostic: full GC (and finalizers) before each epoch's sample" };
var memory = new Command("memory", "Peak and current RSS per epoch of one long Fit; ratio of the peaks.")
{
    memRows, memEpochs, checkpoint, memTarget, collectEachEpoch, threads, dim, hidden, latent, batch, seed, noClip, results,
};
memory.SetAction(p => MemoryBenchmark.Run(
    new TrainSettings(p.GetValue(memRows), p.GetValue(dim), p.GetValue(hidden), p.GetValue(latent), p.GetValue(batch), p.GetValue(threads), p.GetValue(seed), !p.GetValue(noClip)),
    p.GetValue(memEpochs), p.GetValue(checkpoint), p.GetValue(memTarget), p.GetValue(collectEachEpoch), p.GetValue(results)!));
root.Add(memory);

// score
var scoreRows = new Option<int>("--rows") { Description = "rows scored by (a) and (b)", DefaultValueFactory = _ => 100_000 };
var applyRows = new Option<int>("--apply-onnx-rows") { Description = "rows scored by (c) ApplyOnnxModel (slow)", DefaultValueFactory = _ => 5_000 };
var scoreReps = new Option<int>("--reps") { Description = "interleaved repetitions", DefaultValueFactory = _ => 3 };
var targetRaw = new Option<double>("--target-raw") { Description = "target for (a)/(b)", DefaultValueFactory = _ => 0.8 };
var targetApply = new Option<double>("--target-apply") { Description = "target for (a)/(c)", DefaultValueFactory = _ => 10 };
var score = new Command("score", "Batch scoring: MLNetVae Transform vs raw ONNX Runtime vs ML.NET ApplyOnnxModel (rows/s).")
{
    scoreRows, applyRows, scoreReps, targetRaw, targetApply, threads, dim, hidden, latent, results,
};
score.SetAction(p => ScoreBenchmark.Run(p.GetValue(scoreRows), p.GetValue(applyRows), p.GetValue(scoreReps), p.GetValue(threads),
    p.GetValue(dim), p.GetValue(hidden), p.GetValue(latent), p.GetValue(targetRaw), p.GetValue(targetApply), p.GetValue(results)!));
root.Add(score);

// precision
var precisionRows = new Option<int>("--rows") { Description = "rows scored per repetition", DefaultValueFactory = _ => 100_000 };
var precisionDetectorRows = new Option<int>("--detector-rows") { Description = "rows the detector scores per repetition (it decodes every draw)", DefaultValueFactory = _ => 20_000 };
var precisionTrainRows = new Option<int>("--train-rows") { Description = "factor-model rows the models are trained on", DefaultValueFactory = _ => 20_000 };
var precisionEpochs = new Option<int>("--epochs") { Description = "training epochs of both models", DefaultValueFactory = _ => 5 };
var targetSpeedup = new Option<double>("--target-speedup") { Description = "target for int8 / float32 Transform", DefaultValueFactory = _ => 2.0 };
var precision = new Command("precision", "Int8 vs float32 scoring of one model: Transform, detector, raw ONNX Runtime (per row and per batch), accuracy, engine GEMM rates.")
{
    precisionRows, precisionDetectorRows, scoreReps, threads, dim, hidden, latent, precisionTrainRows, precisionEpochs, targetSpeedup, results,
};
precision.SetAction(p => PrecisionBenchmark.Run(p.GetValue(precisionRows), p.GetValue(precisionDetectorRows), p.GetValue(scoreReps), p.GetValue(threads),
    p.GetValue(dim), p.GetValue(hidden), p.GetValue(latent), p.GetValue(precisionTrainRows), p.GetValue(precisionEpochs), p.GetValue(targetSpeedup), p.GetValue(results)!));
root.Add(precision);

// latency
var calls = new Option<int>("--calls") { Description = "timed single-row calls", DefaultValueFactory = _ => 2_000 };
var latencyWarmup = new Option<int>("--warmup") { Description = "untimed calls first", DefaultValueFactory = _ => 200 };
var bdn = new Option<bool>("--bdn") { Description = "also run BenchmarkDotNet (in-process toolchain, ~1-2 min)" };
var latency = new Command("latency", "PredictionEngine single-row latency p50/p99 (and raw ONNX Runtime at batch 1).")
{
    calls, latencyWarmup, bdn, threads, dim, hidden, latent, results,
};
latency.SetAction(p => LatencyBenchmark.Run(p.GetValue(calls), p.GetValue(latencyWarmup), p.GetValue(threads),
    p.GetValue(dim), p.GetValue(hidden), p.GetValue(latent), p.GetValue(bdn), p.GetValue(results)!));
root.Add(latency);

// scale-train
var scaleRows = new Option<int>("--rows") { Description = "training rows, streamed from a fixed pool (bench.sh: 10000, 100000, 1000000)", DefaultValueFactory = _ => 100_000 };
var scaleEpochs = new Option<int>("--epochs") { Description = "epochs of the one Fit", DefaultValueFactory = _ => 1 };
var scaleValidation = new Option<double>("--validation-fraction") { Description = "rows held out for validation (evaluated every epoch)", DefaultValueFactory = _ => 0 };
var scaleBudget = new Option<long?>("--max-in-memory-bytes") { Description = "VaeOptions.MaxInMemoryTrainingBytes: a column larger than this is streamed (default: the library's)" };
var scaleSource = new Option<string?>("--source-file") { Description = "train from this ML.NET binary (.idv) file, written first (--rows rows) if it does not exist" };
var scaleTrain = new Command("scale-train", "One Fit at a given size: time, samples/s and the peak memory it added (run one size per process).")
{
    scaleRows, scaleEpochs, scaleValidation, scaleBudget, scaleSource, threads, dim, hidden, latent, batch, seed, noClip, results,
};
scaleTrain.SetAction(p => ScalingBenchmark.Train(
    new TrainSettings(p.GetValue(scaleRows), p.GetValue(dim), p.GetValue(hidden), p.GetValue(latent), p.GetValue(batch), p.GetValue(threads), p.GetValue(seed), !p.GetValue(noClip))
    {
        ValidationFraction = p.GetValue(scaleValidation),
        MaxInMemoryTrainingBytes = p.GetValue(scaleBudget),
    },
    p.GetValue(scaleEpochs), p.GetValue(results)!, p.GetValue(scaleSource)));
root.Add(scaleTrain);

// scale-score
var batchSizes = new Option<int[]>("--batches") { Description = "rows per ONNX Runtime call to compare", AllowMultipleArgumentsPerToken = true, DefaultValueFactory = _ => new[] { 1, 4, 16, 64, 256, 1024, 4096 } };
var memoryRows = new Option<int[]>("--memory-rows") { Description = "rows to score while watching the peak memory", AllowMultipleArgumentsPerToken = true, DefaultValueFactory = _ => new[] { 10_000, 100_000, 1_000_000 } };
var minRows = new Option<int>("--min-rows") { Description = "rows per measurement at least (16 batches at large batch sizes)", DefaultValueFactory = _ => 8_192 };
var scaleReps = new Option<int>("--reps") { Description = "interleaved repetitions per batch size", DefaultValueFactory = _ => 3 };
var scaleScore = new Command("scale-score", "Transform vs raw ONNX Runtime at batch sizes 1..4096, and the peak memory of scoring 10k..1M rows.")
{
    batchSizes, memoryRows, minRows, scaleReps, threads, dim, hidden, latent, results,
};
scaleScore.SetAction(p => ScalingBenchmark.Score(p.GetValue(batchSizes)!, p.GetValue(memoryRows)!, p.GetValue(minRows), p.GetValue(scaleReps),
    p.GetValue(threads), p.GetValue(dim), p.GetValue(hidden), p.GetValue(latent), p.GetValue(results)!));
root.Add(scaleScore);

// contention
var contentionRows = new Option<int>("--rows") { Description = "training rows (1 epoch per measurement)", DefaultValueFactory = _ => 20_480 };
var contentionScoreRows = new Option<int>("--score-rows") { Description = "rows scored per measurement", DefaultValueFactory = _ => 40_000 };
var contentionReps = new Option<int>("--reps") { Description = "interleaved repetitions", DefaultValueFactory = _ => 3 };
var contention = new Command("contention", "Default threads vs one thread, idle and with every core busy with other processes (training and scoring).")
{
    contentionRows, contentionScoreRows, contentionReps, dim, hidden, latent, batch, results,
};
contention.SetAction(p => ContentionBenchmark.Run(p.GetValue(contentionRows), p.GetValue(contentionScoreRows), p.GetValue(contentionReps),
    p.GetValue(dim), p.GetValue(hidden), p.GetValue(latent), p.GetValue(batch), p.GetValue(results)!));
root.Add(contention);

// peak
var gemmSizes = new Option<int[]>("--sizes") { Description = "square GEMM sizes to try", AllowMultipleArgumentsPerToken = true, DefaultValueFactory = _ => new[] { 1024, 2048, 3072 } };
var gemmReps = new Option<int>("--reps") { Description = "timed GEMMs per size (the best counts)", DefaultValueFactory = _ => 5 };
var peak = new Command("peak", "The machine's float32 limit: the best libtorch GEMM rate (GFLOP/s) with the run's threads.") { gemmSizes, gemmReps, threads, results };
peak.SetAction(p => Roofline.Peak(p.GetValue(threads), p.GetValue(gemmSizes)!, p.GetValue(gemmReps), p.GetValue(results)!));
root.Add(peak);

// report
var runDir = new Option<string>("--run-dir") { Description = "folder with results.jsonl and pytorch-ROUND.json", Required = true };
var output = new Option<string>("--out") { Description = "output path prefix (.json and .md are added)", DefaultValueFactory = _ => Path.Combine(RepoPaths.Root, "bench", "results", "latest") };
var report = new Command("report", "Summarize a bench.sh run into PREFIX.json and PREFIX.md.") { runDir, output };
report.SetAction(p => Report.Run(p.GetValue(runDir)!, p.GetValue(output)!));
root.Add(report);

return root.Parse(args).Invoke();
