using Microsoft.ML;
using Microsoft.ML.Data;

namespace MLNetVae.Scoring;

/// <summary>
/// Block scoring for <c>VaeTransformer</c>: Mu, LogVar, Reconstruction and ReconstructionError, with the encoder
/// always and the decoder only when Reconstruction or ReconstructionError is requested.
/// </summary>
/// <remarks>
/// The scorer is leased for each block, so a transformer disposed (and revived) meanwhile, even from another thread,
/// never pulls the sessions from under a running cursor or engine.
/// </remarks>
internal sealed class VaeBlockScoring(VaeScoringPlan plan, Func<ScorerLease<VaeOnnxScorer>> leaseScorer) : IBlockScoring<VaeBlockScoring.Block>
{
    /// <summary>The buffers of a block and the outputs its consumer asked for.</summary>
    internal sealed record Block(VaeBlock Data, VaeOutputs Outputs);

    public IScoringPlan Plan => plan;

    public void Prepare() => leaseScorer().Dispose();

    public Block? CreateBlock(IReadOnlyList<DataViewSchema.Column> activeColumns, int capacity)
    {
        var outputs = plan.OutputsNeeded(activeColumns);
        return outputs == VaeOutputs.None ? null : new Block(plan.CreateBlock(capacity), outputs);
    }

    public Span<float> InputRow(Block block, int row) => block.Data.InputRow(row);

    public void Score(Block block, int rows)
    {
        block.Data.Rows = rows;
        if (rows == 0)
            return;
        using var lease = leaseScorer();
        lease.Scorer.Score(block.Data, block.Outputs);
    }

    public Delegate OutputGetter(Block block, DataViewSchema.Column column, Func<int> slot)
    {
        var data = block.Data;
        int latent = data.LatentDim, inputDim = data.InputDim;
        return plan.OutputOf(column.Index) switch
        {
            VaeOutputs.Mu => (ValueGetter<VBuffer<float>>)((ref VBuffer<float> v) => BlockScoring.CopyRow(data.Mu, slot() * latent, latent, ref v)),
            VaeOutputs.LogVar => (ValueGetter<VBuffer<float>>)((ref VBuffer<float> v) => BlockScoring.CopyRow(data.LogVar, slot() * latent, latent, ref v)),
            VaeOutputs.Reconstruction => (ValueGetter<VBuffer<float>>)((ref VBuffer<float> v) => BlockScoring.CopyRow(data.Reconstruction, slot() * inputDim, inputDim, ref v)),
            _ => (ValueGetter<float>)((ref float v) => v = data.Error[slot()]),
        };
    }
}
