using Microsoft.ML;
using Microsoft.ML.Data;

namespace MLNetVae.Data;

/// <summary>
/// Rows of one vector column copied into memory as float32, the one copy of the training data that <c>Fit</c> holds.
/// </summary>
/// <remarks>
/// Stored in fixed-size chunks of rows rather than one array: reading a source of unknown length then never copies
/// what it already read (a doubling array would briefly hold two copies), and the row count is not capped by the
/// largest .NET array (2^31 values, 2.8 M rows of 768 features).
/// </remarks>
internal sealed class FeatureMatrix
{
    /// <summary>Values per chunk (64 MiB of float32); a chunk always holds whole rows (at least one).</summary>
    internal const int ChunkValues = 16 * 1024 * 1024;

    private readonly List<float[]> chunks;
    private readonly int rowsPerChunk;

    private FeatureMatrix(List<float[]> chunks, int rowsPerChunk, int rows, int columns, IReadOnlyList<long> skippedRows)
    {
        this.chunks = chunks;
        this.rowsPerChunk = rowsPerChunk;
        Rows = rows;
        Columns = columns;
        SkippedRows = skippedRows;
    }

    public int Rows { get; }
    public int Columns { get; }

    /// <summary>Positions (in the data view) of the rows left out because they held NaN or ∞; empty unless asked to skip.</summary>
    public IReadOnlyList<long> SkippedRows { get; }

    /// <summary>Bytes of feature values held (what the training data costs in memory).</summary>
    public long Bytes => (long)Rows * Columns * sizeof(float);

    /// <summary>Values allocated, used or not (the last chunk may have room left).</summary>
    internal long AllocatedValues => chunks.Sum(c => (long)c.Length);

    public Span<float> Row(int row)
    {
        var chunk = chunks[row / rowsPerChunk];
        return chunk.AsSpan(row % rowsPerChunk * Columns, Columns);
    }

    /// <summary>
    /// Reads <paramref name="columnName"/> of every row. Sparse vectors are densified. Throws a clear
    /// <see cref="ArgumentException"/> for a missing or ill-typed column, no rows, or a NaN/∞ value
    /// (naming the column, the row and the feature); with <paramref name="skipNonFinite"/>, rows holding NaN/∞
    /// are left out instead and listed in <see cref="SkippedRows"/>.
    /// </summary>
    public static FeatureMatrix Read(IDataView data, string columnName, CancellationToken cancellationToken = default, bool skipNonFinite = false,
        int chunkValues = ChunkValues) =>
        TryRead(data, columnName, long.MaxValue, cancellationToken, skipNonFinite, chunkValues)!;

    /// <summary>
    /// As <see cref="Read"/>, but gives up and returns null as soon as the rows would take more than
    /// <paramref name="maxBytes"/> (at once when the source reports a row count that large): <c>Fit</c> then streams.
    /// </summary>
    public static FeatureMatrix? TryRead(IDataView data, string columnName, long maxBytes, CancellationToken cancellationToken = default,
        bool skipNonFinite = false, int chunkValues = ChunkValues)
    {
        var column = InputColumn.Require(data.Schema, columnName);
        int width = ((VectorDataViewType)column.Type).Size;
        long rowBytes = (long)width * sizeof(float);
        if (data.GetRowCount() is { } reported && reported > maxBytes / rowBytes)
            return null;
        var builder = new Builder(width, data.GetRowCount(), chunkValues);
        long position = -1;
        var skipped = new List<long>();

        using (var cursor = data.GetRowCursor(new[] { column }))
        {
            var getter = cursor.GetGetter<VBuffer<float>>(column);
            var buffer = default(VBuffer<float>);
            while (cursor.MoveNext())
            {
                position++;
                if ((position & 1023) == 0)
                    cancellationToken.ThrowIfCancellationRequested();
                if (builder.Rows >= maxBytes / rowBytes)
                    return null;
                getter(ref buffer);
                if (!InputColumn.CopyTrainingRow(buffer, builder.NextRow(), columnName, position, skipNonFinite))
                {
                    skipped.Add(position);
                    builder.DropLastRow(); // the next row overwrites this one
                }
            }
        }

        if (builder.Rows == 0)
            throw InputColumn.NoTrainingRows(columnName, skipped.Count);
        return builder.Build(skipped);
    }

    /// <summary>Appends rows chunk by chunk; a chunk is only as large as the known row count needs.</summary>
    private sealed class Builder(int columns, long? knownRows, int chunkValues)
    {
        private readonly List<float[]> chunks = new();
        private readonly int rowsPerChunk = Math.Max(1, chunkValues / Math.Max(1, columns));

        public int Rows { get; private set; }

        public Span<float> NextRow()
        {
            if (Rows == int.MaxValue)
                throw new NotSupportedException($"More than {int.MaxValue} rows: train on a sample of the rows.");
            int chunkIndex = Rows / rowsPerChunk, inChunk = Rows % rowsPerChunk;
            if (chunkIndex == chunks.Count)
                chunks.Add(new float[(long)ChunkRows(chunkIndex) * columns]);
            var chunk = chunks[chunkIndex];
            if ((inChunk + 1) * columns > chunk.Length)
            {
                // The chunk was sized for fewer rows (an unknown count starts small; a source may under-report):
                // double it, up to a full chunk. Only this chunk is ever copied, so the cost stays bounded.
                Array.Resize(ref chunk, (int)Math.Min((long)rowsPerChunk * columns, 2L * chunk.Length));
                chunks[chunkIndex] = chunk;
            }
            Rows++;
            return chunk.AsSpan(inChunk * columns, columns);
        }

        public void DropLastRow() => Rows--;

        public FeatureMatrix Build(IReadOnlyList<long> skipped) => new(chunks, rowsPerChunk, Rows, columns, skipped);

        /// <summary>
        /// Rows to allocate for chunk <paramref name="index"/>: the remainder when the total is known; otherwise a full
        /// chunk, except the first, which starts at 1,024 rows and doubles as needed, so small data of unknown length
        /// does not reserve 64 MiB.
        /// </summary>
        private int ChunkRows(int index)
        {
            if (knownRows is not { } total)
                return index == 0 ? Math.Min(FirstChunkRows, rowsPerChunk) : rowsPerChunk;
            long left = total - (long)index * rowsPerChunk;
            return (int)Math.Clamp(left, 1, rowsPerChunk);
        }

        private const int FirstChunkRows = 1024;
    }
}
