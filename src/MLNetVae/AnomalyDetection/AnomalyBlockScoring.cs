using Microsoft.ML;
using Microsoft.ML.Data;
using MLNetVae.Scoring;

namespace MLNetVae.AnomalyDetection;

/// <summary>
/// Block scoring for <c>VaeAnomalyTransformer</c>: Score, PredictedLabel and the optional per-feature error, computed by
/// <see cref="AnomalyOnnxScorer"/> (the graph saved models carry). Like the VAE's, the shared scorer is leased for each
/// block (see <see cref="VaeBlockScoring"/>).
/// </summary>
internal sealed class AnomalyBlockScoring(AnomalyScoringPlan plan, Func<ScorerLease<AnomalyOnnxScorer>> leaseScorer, float threshold)
    : IBlockScoring<AnomalyBlockScoring.Block>
{
    /// <summary>Row-major buffers of one block of rows and the outputs its consumer asked for.</summary>
    internal sealed class Block(int capacity, int inputDim, AnomalyOutputs outputs)
    {
        public int InputDim { get; } = inputDim;
        public float[] Input { get; } = new float[capacity * inputDim];
        public float[]? Score { get; } = (outputs & (AnomalyOutputs.Score | AnomalyOutputs.PredictedLabel)) != 0 ? new float[capacity] : null;
        public float[]? PerFeatureError { get; } = (outputs & AnomalyOutputs.PerFeatureError) != 0 ? new float[capacity * inputDim] : null;
    }

    public IScoringPlan Plan => plan;

    public void Prepare() => leaseScorer().Dispose();

    public Block? CreateBlock(IReadOnlyList<DataViewSchema.Column> activeColumns, int capacity)
    {
        var outputs = plan.OutputsNeeded(activeColumns);
        return outputs == AnomalyOutputs.None ? null : new Block(capacity, plan.InputDim, outputs);
    }

    public Span<float> InputRow(Block block, int row) => block.Input.AsSpan(row * block.InputDim, block.InputDim);

    public void Score(Block block, int rows)
    {
        if (rows == 0)
            return;
        using var lease = leaseScorer();
        lease.Scorer.Score(block.Input, rows, block.Score, block.PerFeatureError);
    }

    public Delegate OutputGetter(Block block, DataViewSchema.Column column, Func<int> slot)
    {
        int inputDim = block.InputDim;
        return plan.OutputOf(column.Index) switch
        {
            AnomalyOutputs.Score => (ValueGetter<float>)((ref float v) => v = block.Score![slot()]),
            // NaN (a row with NaN/∞ features) compares false: such a row is never flagged.
            AnomalyOutputs.PredictedLabel => (ValueGetter<bool>)((ref bool v) => v = block.Score![slot()] > threshold),
            _ => (ValueGetter<VBuffer<float>>)((ref VBuffer<float> v) => BlockScoring.CopyRow(block.PerFeatureError!, slot() * inputDim, inputDim, ref v)),
        };
    }
}
