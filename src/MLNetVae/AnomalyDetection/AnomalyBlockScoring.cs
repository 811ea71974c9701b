using Microsoft.ML;
using Microsoft.ML.Data;
using MLNetVae.Scoring;

namespace MLNetVae.AnomalyDetection;

/// <summary>
/// Block scoring for <c>VaeAnomalyTransformer</c>: Score, PredictedLabel and the optional per-feature error, with the
/// encoder once per block and the decoder as often as the score needs (see <see cref="AnomalyBlockScorer"/>).
/// Like the VAE's, the shared scorer is leased for each block (see <see cref="VaeBlockScoring"/>).
/// </summary>
internal sealed class AnomalyBlockScoring(AnomalyScoringPlan plan, Func<VaeOnnxScorer.Lease> leaseScorer, AnomalyScoring scoring, float[] noiseTable)
    : IBlockScoring<AnomalyBlockScoring.Block>
{
    /// <summary>The buffers of a block and the outputs its consumer asked for.</summary>
    internal sealed record Block(AnomalyBlock Data, AnomalyOutputs Outputs);

    public IScoringPlan Plan => plan;

    public void Prepare() => leaseScorer().Dispose();

    public Block? CreateBlock(IReadOnlyList<DataViewSchema.Column> activeColumns, int capacity)
    {
        var outputs = plan.OutputsNeeded(activeColumns);
        if (outputs == AnomalyOutputs.None)
            return null;
        using var lease = leaseScorer();
        return new Block(new AnomalyBlock(lease.Scorer.CreateBlock(capacity)), outputs);
    }

    public Span<float> InputRow(Block block, int row) => block.Data.Vae.InputRow(row);

    public void Score(Block block, int rows)
    {
        block.Data.Vae.Rows = rows;
        if (rows == 0)
            return;
        using var lease = leaseScorer();
        new AnomalyBlockScorer(lease.Scorer, scoring, noiseTable).Score(block.Data, block.Outputs);
    }

    public Delegate OutputGetter(Block block, DataViewSchema.Column column, Func<int> slot)
    {
        var data = block.Data;
        float threshold = scoring.Threshold;
        return plan.OutputOf(column.Index) switch
        {
            AnomalyOutputs.Score => (ValueGetter<float>)((ref float v) => v = data.Score[slot()]),
            // NaN (a row with NaN/∞ features) compares false: such a row is never flagged.
            AnomalyOutputs.PredictedLabel => (ValueGetter<bool>)((ref bool v) => v = data.Score[slot()] > threshold),
            _ => (ValueGetter<VBuffer<float>>)((ref VBuffer<float> v) =>
            {
                int row = slot();
                var editor = VBufferEditor.Create(ref v, data.Vae.InputDim);
                data.PerFeatureError(row, editor.Values);
                v = editor.Commit();
            }),
        };
    }
}
