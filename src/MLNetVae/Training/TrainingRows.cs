using MLNetVae.Data;
using MLNetVae.Model;
using static TorchSharp.torch;

namespace MLNetVae.Training;

/// <summary>
/// The rows one training run reads, already standardized: the training rows in a new seeded order every epoch, the
/// validation rows, and the rows the latent diagnostics look at. Two kinds: <see cref="InMemoryTrainingRows"/> (one
/// float32 copy of the column, today's path for data that fits) and <see cref="StreamingTrainingRows"/> (reads the
/// data view again every epoch through a bounded shuffle buffer, for data that does not).
/// </summary>
internal abstract class TrainingRows
{
    public abstract int Columns { get; }
    public abstract int TrainCount { get; }
    public abstract int ValidationCount { get; }

    /// <summary>The standardization fitted on the training rows (null without <see cref="VaeTrainingOptions.Standardize"/>).</summary>
    public abstract FeatureStandardization? Standardization { get; }

    /// <summary>Per-row loss of reconstructing every training row as zero, plus one per feature (see <see cref="VaeTrainer.ZeroReconstructionLoss"/>).</summary>
    public abstract double ReferenceLoss { get; }

    /// <summary>
    /// The training rows in batches of <paramref name="batchSize"/> (the last may be smaller), in an order drawn from
    /// <paramref name="random"/>. A block is valid until the next one is asked for.
    /// </summary>
    public abstract IEnumerable<RowBlock> TrainingBatches(int batchSize, Random random, CancellationToken cancellationToken);

    /// <summary>The validation rows in blocks of at most <paramref name="blockRows"/>.</summary>
    public abstract IEnumerable<RowBlock> ValidationBlocks(int blockRows, CancellationToken cancellationToken);

    /// <summary>At most <paramref name="maxRows"/> training rows, evenly spaced in training-row order, in blocks.</summary>
    public abstract IEnumerable<RowBlock> LatentStatisticsBlocks(int blockRows, int maxRows, CancellationToken cancellationToken);
}

/// <summary>
/// A block of rows to hand to the network: indices into the in-memory matrix, or values the streaming path gathered
/// row after row. <see cref="Load"/> is called inside the caller's dispose scope, so the tensor it makes is freed there.
/// </summary>
internal readonly struct RowBlock
{
    private readonly FeatureMatrix? matrix;
    private readonly int[]? rows;
    private readonly float[]? values;

    private RowBlock(FeatureMatrix? matrix, int[]? rows, float[]? values, int count)
    {
        this.matrix = matrix;
        this.rows = rows;
        this.values = values;
        Count = count;
    }

    public int Count { get; }

    public static RowBlock Indexed(FeatureMatrix matrix, int[] rows, int count) => new(matrix, rows, null, count);
    public static RowBlock Gathered(float[] values, int count) => new(null, null, values, count);

    public Tensor Load(RowBatchLoader loader) =>
        matrix is not null
            ? loader.Load(matrix, rows!, Count)
            : loader.Load(values!, Count);
}
