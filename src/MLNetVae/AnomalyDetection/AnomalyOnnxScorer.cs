using Microsoft.ML.OnnxRuntime;
using MLNetVae.Model;
using MLNetVae.Onnx;
using MLNetVae.Scoring;

namespace MLNetVae.AnomalyDetection;

/// <summary>
/// Scores blocks of rows for anomaly detection with the batch form of <see cref="AnomalyScoreGraph"/>, the graph saved
/// models carry too. One session per set of outputs (score, per-feature errors, both), each created on first use, so a
/// consumer of the per-feature errors alone never pays for the draws. Thread-safe; its sessions live until the last
/// <see cref="ScorerLease{TScorer}"/> ends.
/// </summary>
internal sealed class AnomalyOnnxScorer : ILeasedScorer
{
    /// <summary>
    /// Most floats of decoded rows one call holds (rows · (draws + 1) · features): a sampling score decodes every draw
    /// of every row in one pass, so a block is scored in slices that keep ONNX Runtime's buffers near 16 MB each.
    /// </summary>
    internal const int MaxDecodedValuesPerCall = 4 << 20;

    private readonly VaeWeights weights;
    private readonly AnomalyScoreDefinition score;
    private readonly int? gpuDeviceId;
    private readonly bool fallbackToCpu;
    private readonly object gate = new();
    private readonly InferenceSession?[] sessions = new InferenceSession?[3];

    public AnomalyOnnxScorer(VaeWeights weights, AnomalyScoreDefinition score, int? gpuDeviceId, bool fallbackToCpu)
    {
        this.weights = weights;
        this.score = score;
        this.gpuDeviceId = gpuDeviceId;
        this.fallbackToCpu = fallbackToCpu;
        Leases = new ScorerLeases(ReleaseSessions);
        Session(withScore: true, withPerFeatureError: false); // setup errors (no usable GPU) surface now
        RowsPerCall = Math.Max(1, MaxDecodedValuesPerCall / ((score.IsSampling ? score.Samples + 1 : 1) * weights.InputDim));
    }

    public ScorerLeases Leases { get; }

    public int InputDim => weights.InputDim;

    /// <summary>Rows per ONNX Runtime call (see <see cref="MaxDecodedValuesPerCall"/>).</summary>
    public int RowsPerCall { get; }

    /// <summary>
    /// Scores the first <paramref name="rows"/> rows of <paramref name="input"/> (<c>[rows, in]</c>, row-major) into
    /// <paramref name="scores"/> and/or <paramref name="perFeatureErrors"/> (null: not needed).
    /// </summary>
    public void Score(float[] input, int rows, float[]? scores, float[]? perFeatureErrors)
    {
        if (rows == 0 || (scores is null && perFeatureErrors is null))
            return;
        var session = Session(scores is not null, perFeatureErrors is not null);
        var outputNames = new List<string>(2);
        if (scores is not null)
            outputNames.Add(AnomalyScoreGraph.BatchScore);
        if (perFeatureErrors is not null)
            outputNames.Add(AnomalyScoreGraph.BatchPerFeatureError);
        using var runOptions = new RunOptions();
        for (int first = 0; first < rows; first += RowsPerCall)
        {
            int n = Math.Min(RowsPerCall, rows - first);
            var outputs = new List<OrtValue>(2);
            try
            {
                if (scores is not null)
                    outputs.Add(OrtValue.CreateTensorValueFromMemory(OrtMemoryInfo.DefaultInstance, scores.AsMemory(first, n), new long[] { n }));
                if (perFeatureErrors is not null)
                    outputs.Add(VaeOnnxScorer.Tensor(perFeatureErrors, n, InputDim, first));
                using var x = VaeOnnxScorer.Tensor(input, n, InputDim, first);
                session.Run(runOptions, [AnomalyScoreGraph.BatchInput], [x], outputNames, outputs);
            }
            finally
            {
                foreach (var output in outputs)
                    output.Dispose();
            }
        }
    }

    private InferenceSession Session(bool withScore, bool withPerFeatureError)
    {
        int index = (withScore ? 1 : 0) + (withPerFeatureError ? 2 : 0) - 1;
        lock (gate)
        {
            return sessions[index] ??= OnnxRuntimeSessions.Create(
                AnomalyScoreGraph.ExportBatchGraph(weights, score, withScore, withPerFeatureError), gpuDeviceId, fallbackToCpu, "anomaly score graph");
        }
    }

    private void ReleaseSessions()
    {
        lock (gate)
        {
            foreach (var session in sessions)
                session?.Dispose();
        }
    }
}
