using Microsoft.ML;
using Microsoft.ML.Data;
using MLNetVae.Data;
using MLNetVae.Model;

namespace MLNetVae.Training;

/// <summary>
/// Training rows read from the data view again in every pass instead of being copied into memory, for a column larger
/// than <see cref="VaeTrainingOptions.MaxInMemoryTrainingBytes"/>. Memory is bounded by the shuffle buffer (that many
/// bytes) plus one batch and one validation block, whatever the number of rows.
/// </summary>
/// <remarks>
/// <list type="bullet">
/// <item>Construction makes one pass: the standardization statistics of the training rows in one sweep
/// (<see cref="FeatureMoments"/>; the same definition as the in-memory fit), the feature ranges, the counts, and the
/// NaN/∞ check (an error naming the row, or the row left out with <see cref="VaeTrainingOptions.SkipNonFiniteRows"/>).</item>
/// <item>The validation split is by row position, with <see cref="RowSubset.IsHeldOut"/>: a row's side depends only on
/// the seed and its position, so every pass agrees without a list of rows (the in-memory path instead draws exactly
/// ⌊rows · fraction⌋ rows, which needs an index per row).</item>
/// <item>Each epoch streams the training rows through a seeded shuffle buffer of <see cref="ShuffleBufferRows"/> rows:
/// the buffer is filled, then a uniformly drawn slot goes to the batch and is refilled with the next row. With a buffer
/// as large as the data this is a uniform permutation; with a smaller one, rows are mixed within about a buffer's reach
/// of their position, so a source sorted by class over far more rows than the buffer should be shuffled once before
/// training (docs/scaling.md).</item>
/// <item>Deterministic: the same seed, source (same rows in the same order) and threads give the same weights.</item>
/// </list>
/// </remarks>
internal sealed class StreamingTrainingRows : TrainingRows
{
    private readonly IDataView source;
    private readonly DataViewSchema.Column column;
    private readonly string columnName;
    private readonly int columns;
    private readonly bool skipNonFinite;
    private readonly double validationFraction;
    private readonly int splitSeed;
    private readonly bool validating;
    private float[]? shuffleBuffer;

    public StreamingTrainingRows(IDataView source, VaeTrainingOptions options, string columnName, int seed, long bufferBytes,
        CancellationToken cancellationToken)
    {
        this.source = source;
        this.columnName = columnName;
        column = InputColumn.Require(source.Schema, columnName);
        columns = ((VectorDataViewType)column.Type).Size;
        skipNonFinite = options.SkipNonFiniteRows;
        validationFraction = options.ValidationFraction;
        // Its own seed, so the validation split is not correlated with the detector's calibration split (same RowSubset rule).
        splitSeed = unchecked(seed * -1640531527 + 0x5BD1E995);

        validating = validationFraction > 0;
        var pass = StatisticsPass(cancellationToken);
        if (validating && (pass.Validation == 0 || pass.Moments.Count == 0))
        {
            validating = false; // as in memory: no validation when it would leave either side empty
            pass = StatisticsPass(cancellationToken);
        }
        if (pass.Moments.Count + pass.Validation == 0)
            throw InputColumn.NoTrainingRows(columnName, pass.Skipped);
        if (pass.Moments.Count > int.MaxValue || pass.Validation > int.MaxValue)
            throw new NotSupportedException($"More than {int.MaxValue} training rows in column '{columnName}': train on a sample of the rows.");

        TrainCount = (int)pass.Moments.Count;
        ValidationCount = (int)pass.Validation;
        SkippedRows = pass.Skipped;
        FirstSkippedRows = pass.FirstSkipped;
        if (options.Standardize)
        {
            FeatureRange.RequireRepresentableErrors(pass.RangeMin, pass.RangeMax, columnName);
            Standardization = pass.Moments.Standardization(options.StandardizeScaleFloor, options.ScaleNearConstantFeaturesByExcursions);
        }
        ReferenceLoss = pass.Moments.MeanSquaredNorm(Standardization) + columns;
        long rowBytes = (long)columns * sizeof(float);
        ShuffleBufferRows = (int)Math.Clamp(bufferBytes / rowBytes, 1, Math.Min(TrainCount, Array.MaxLength / columns));
    }

    public override int Columns => columns;
    public override int TrainCount { get; }
    public override int ValidationCount { get; }
    public override FeatureStandardization? Standardization { get; }
    public override double ReferenceLoss { get; }

    /// <summary>Rows the shuffle buffer holds (its bytes: rows · features · 4).</summary>
    public int ShuffleBufferRows { get; }

    /// <summary>Rows left out for NaN/∞ (with <see cref="VaeTrainingOptions.SkipNonFiniteRows"/>), and the positions of the first few.</summary>
    public long SkippedRows { get; }
    public IReadOnlyList<long> FirstSkippedRows { get; }

    /// <summary>Whether the row at <paramref name="position"/> of the source is a validation row.</summary>
    internal bool IsValidation(long position) => validating && RowSubset.IsHeldOut(position, validationFraction, splitSeed);

    public override IEnumerable<RowBlock> TrainingBatches(int batchSize, Random random, CancellationToken cancellationToken)
    {
        int d = columns;
        var pool = shuffleBuffer ??= new float[(long)ShuffleBufferRows * d];
        var batch = new float[(long)Math.Min(batchSize, TrainCount) * d];
        using var reader = new RowReader(this, validationRows: false, cancellationToken);
        int filled = 0;
        while (filled < ShuffleBufferRows && reader.Next(pool.AsSpan(filled * d, d)))
            filled++;
        int inBatch = 0;
        while (filled > 0)
        {
            int slot = random.Next(filled);
            pool.AsSpan(slot * d, d).CopyTo(batch.AsSpan(inBatch * d, d));
            inBatch++;
            if (!reader.Next(pool.AsSpan(slot * d, d)))
            {
                // The source is exhausted: the buffer shrinks by moving its last row into the slot just taken.
                filled--;
                if (slot != filled)
                    pool.AsSpan(filled * d, d).CopyTo(pool.AsSpan(slot * d, d));
            }
            if (inBatch == batch.Length / d)
            {
                yield return RowBlock.Gathered(batch, inBatch);
                inBatch = 0;
            }
        }
        if (inBatch > 0)
            yield return RowBlock.Gathered(batch, inBatch);
    }

    public override IEnumerable<RowBlock> ValidationBlocks(int blockRows, CancellationToken cancellationToken) =>
        Blocks(validationRows: true, blockRows, take: _ => true, cancellationToken);

    public override IEnumerable<RowBlock> LatentStatisticsBlocks(int blockRows, int maxRows, CancellationToken cancellationToken)
    {
        // The training rows VaeTrainer.EvenlySpaced picks from an index of them: ⌊i · n / count⌋ for i = 0 … count − 1.
        long n = TrainCount, count = Math.Min(maxRows, n), next = 0, i = 0;
        return Blocks(validationRows: false, blockRows, take: index =>
        {
            if (i >= count || index != next)
                return false;
            i++;
            next = i * n / count;
            return true;
        }, cancellationToken);
    }

    private IEnumerable<RowBlock> Blocks(bool validationRows, int blockRows, Func<long, bool> take, CancellationToken cancellationToken)
    {
        int d = columns;
        var block = new float[(long)Math.Max(1, blockRows) * d];
        using var reader = new RowReader(this, validationRows, cancellationToken);
        int count = 0;
        var scratch = new float[d];
        while (reader.Next(scratch))
        {
            if (!take(reader.Index))
                continue;
            scratch.CopyTo(block.AsSpan(count * d, d));
            if (++count == blockRows)
            {
                yield return RowBlock.Gathered(block, count);
                count = 0;
            }
        }
        if (count > 0)
            yield return RowBlock.Gathered(block, count);
    }

    /// <summary>Counts, moments and ranges of one pass over the source.</summary>
    private sealed record Pass(FeatureMoments Moments, long Validation, float[] RangeMin, float[] RangeMax, long Skipped, List<long> FirstSkipped);

    private Pass StatisticsPass(CancellationToken cancellationToken)
    {
        var moments = new FeatureMoments(columns);
        var min = new float[columns];
        var max = new float[columns];
        Array.Fill(min, float.PositiveInfinity);
        Array.Fill(max, float.NegativeInfinity);
        long validation = 0, skipped = 0;
        var firstSkipped = new List<long>();
        var row = new float[columns];
        using var cursor = source.GetRowCursor(new[] { column });
        var getter = cursor.GetGetter<VBuffer<float>>(column);
        var buffer = default(VBuffer<float>);
        long position = -1;
        while (cursor.MoveNext())
        {
            position++;
            if ((position & 1023) == 0)
                cancellationToken.ThrowIfCancellationRequested();
            getter(ref buffer);
            if (!ReadRow(buffer, row, position))
            {
                skipped++;
                if (firstSkipped.Count < 5)
                    firstSkipped.Add(position);
                continue;
            }
            for (int j = 0; j < columns; j++)
            {
                if (row[j] < min[j]) min[j] = row[j];
                if (row[j] > max[j]) max[j] = row[j];
            }
            if (IsValidation(position))
                validation++;
            else
                moments.Add(row);
        }
        return new Pass(moments, validation, min, max, skipped, firstSkipped);
    }

    /// <summary>Copies a row read from the source, checking its length and values; false for a NaN/∞ row being skipped.</summary>
    private bool ReadRow(in VBuffer<float> buffer, Span<float> row, long position) =>
        InputColumn.CopyTrainingRow(buffer, row, columnName, position, skipNonFinite);

    /// <summary>
    /// One pass's cursor over the rows of one side (training or validation), each standardized as it is read;
    /// <see cref="Index"/> counts the rows of that side delivered so far.
    /// </summary>
    private sealed class RowReader : IDisposable
    {
        private readonly StreamingTrainingRows rows;
        private readonly bool validationRows;
        private readonly CancellationToken cancellationToken;
        private readonly DataViewRowCursor cursor;
        private readonly ValueGetter<VBuffer<float>> getter;
        private VBuffer<float> buffer;
        private long position = -1;

        public RowReader(StreamingTrainingRows rows, bool validationRows, CancellationToken cancellationToken)
        {
            this.rows = rows;
            this.validationRows = validationRows;
            this.cancellationToken = cancellationToken;
            cursor = rows.source.GetRowCursor(new[] { rows.column });
            getter = cursor.GetGetter<VBuffer<float>>(rows.column);
        }

        /// <summary>Index, among the rows of this side, of the row last read (−1 before the first).</summary>
        public long Index { get; private set; } = -1;

        public bool Next(Span<float> destination)
        {
            while (cursor.MoveNext())
            {
                position++;
                if ((position & 1023) == 0)
                    cancellationToken.ThrowIfCancellationRequested();
                if (rows.IsValidation(position) != validationRows)
                    continue;
                getter(ref buffer);
                if (!rows.ReadRow(buffer, destination, position))
                    continue;
                if (rows.Standardization is { } standardization)
                    StandardizationFitter.ApplyInPlace(destination, standardization);
                Index++;
                return true;
            }
            return false;
        }

        public void Dispose() => cursor.Dispose();
    }
}
