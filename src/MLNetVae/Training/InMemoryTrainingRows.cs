using MLNetVae.Data;
using MLNetVae.Model;

namespace MLNetVae.Training;

/// <summary>
/// Training rows held in memory (<see cref="FeatureMatrix"/>): a random split of exactly ⌊rows · ValidationFraction⌋
/// validation rows, the standardization fitted on the training rows and applied in place, and a full permutation of
/// the training rows every epoch.
/// </summary>
internal sealed class InMemoryTrainingRows : TrainingRows
{
    private readonly FeatureMatrix data;
    private readonly int[] trainRows;
    private readonly int[] validationRows;
    private readonly int[] order;

    /// <summary>Splits with <paramref name="random"/> (its first use in a run, before the weights are drawn) and standardizes <paramref name="data"/> in place.</summary>
    public InMemoryTrainingRows(FeatureMatrix data, VaeTrainingOptions options, Random random)
    {
        this.data = data;
        (trainRows, validationRows) = VaeTrainer.Split(data.Rows, options.ValidationFraction, random);
        if (options.Standardize)
        {
            Standardization = StandardizationFitter.Fit(data, trainRows, options.StandardizeScaleFloor, options.ScaleNearConstantFeaturesByExcursions);
            StandardizationFitter.ApplyInPlace(data, Standardization);
        }
        ReferenceLoss = VaeTrainer.ZeroReconstructionLoss(data, trainRows);
        order = Enumerable.Range(0, trainRows.Length).ToArray();
    }

    public override int Columns => data.Columns;
    public override int TrainCount => trainRows.Length;
    public override int ValidationCount => validationRows.Length;
    public override FeatureStandardization? Standardization { get; }
    public override double ReferenceLoss { get; }

    public override IEnumerable<RowBlock> TrainingBatches(int batchSize, Random random, CancellationToken cancellationToken)
    {
        random.Shuffle(order);
        var batch = new int[Math.Min(batchSize, trainRows.Length)];
        for (int start = 0; start < trainRows.Length; start += batchSize)
        {
            int count = Math.Min(batchSize, trainRows.Length - start);
            for (int i = 0; i < count; i++)
                batch[i] = trainRows[order[start + i]];
            yield return RowBlock.Indexed(data, batch, count);
        }
    }

    public override IEnumerable<RowBlock> ValidationBlocks(int blockRows, CancellationToken cancellationToken) => Blocks(validationRows, blockRows);

    public override IEnumerable<RowBlock> LatentStatisticsBlocks(int blockRows, int maxRows, CancellationToken cancellationToken) =>
        Blocks(VaeTrainer.EvenlySpaced(trainRows, maxRows), blockRows);

    private IEnumerable<RowBlock> Blocks(int[] rows, int blockRows)
    {
        var block = new int[Math.Max(1, Math.Min(blockRows, rows.Length))];
        for (int start = 0; start < rows.Length; start += blockRows)
        {
            int count = Math.Min(blockRows, rows.Length - start);
            Array.Copy(rows, start, block, 0, count);
            yield return RowBlock.Indexed(data, block, count);
        }
    }
}
