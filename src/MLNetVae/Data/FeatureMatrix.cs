using Microsoft.ML;
using Microsoft.ML.Data;

namespace MLNetVae.Data;

/// <summary>Rows of one vector column copied into a dense row-major <c>float</c> array.</summary>
internal sealed class FeatureMatrix
{
    public FeatureMatrix(float[] values, int rows, int columns, IReadOnlyList<long>? skippedRows = null)
    {
        if (values.Length < (long)rows * columns)
            throw new ArgumentException("The value buffer is smaller than rows x columns.", nameof(values));
        Values = values;
        Rows = rows;
        Columns = columns;
        SkippedRows = skippedRows ?? Array.Empty<long>();
    }

    /// <summary>Row-major; may be longer than <c>Rows * Columns</c> (the tail is unused).</summary>
    public float[] Values { get; }
    public int Rows { get; }
    public int Columns { get; }

    /// <summary>Positions (in the data view) of the rows left out because they held NaN or ∞; empty unless asked to skip.</summary>
    public IReadOnlyList<long> SkippedRows { get; }

    public Span<float> Row(int row) => Values.AsSpan(row * Columns, Columns);

    /// <summary>
    /// Reads <paramref name="columnName"/> of every row. Sparse vectors are densified. Throws a clear
    /// <see cref="ArgumentException"/> for a missing or ill-typed column, no rows, or a NaN/∞ value
    /// (naming the column, the row and the feature); with <paramref name="skipNonFinite"/>, rows holding NaN/∞
    /// are left out instead and listed in <see cref="SkippedRows"/>.
    /// </summary>
    public static FeatureMatrix Read(IDataView data, string columnName, CancellationToken cancellationToken = default, bool skipNonFinite = false)
    {
        var column = InputColumn.Require(data.Schema, columnName);
        int width = ((VectorDataViewType)column.Type).Size;
        long? knownRows = data.GetRowCount();
        long capacity = knownRows ?? 1024;
        float[] values = Allocate(capacity, width);
        int rows = 0;
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
                if ((long)(rows + 1) * width > values.Length)
                    Array.Resize(ref values, (int)Math.Min((long)Array.MaxLength, Math.Max(2L * values.Length, (long)(rows + 1) * width)));
                getter(ref buffer);
                if (buffer.Length != width)
                    throw new ArgumentException(
                        $"Column '{columnName}' row {position} has {buffer.Length} values; the column type says {width}.");
                var row = values.AsSpan(rows * width, width);
                buffer.CopyTo(row);
                if (skipNonFinite && !InputColumn.IsFinite(row))
                {
                    skipped.Add(position);
                    continue; // the next row overwrites this one
                }
                InputColumn.RequireFinite(row, columnName, position);
                rows++;
            }
        }

        if (rows == 0 && skipped.Count > 0)
            throw new ArgumentException(
                $"The training data has no rows with finite values in column '{columnName}': all {skipped.Count} rows hold NaN or ∞ " +
                "and VaeOptions.SkipNonFiniteRows left every one out. Replace the missing values (ml.Transforms.ReplaceMissingValues) or fix the source data.");
        if (rows == 0)
            throw new ArgumentException(
                $"The training data has no rows (column '{columnName}'). Fit needs at least one row; check the loader and any filters before the VAE.");
        return new FeatureMatrix(values, rows, width, skipped);
    }

    private static float[] Allocate(long rows, int width)
    {
        long length = rows * width;
        if (length > Array.MaxLength)
            throw new NotSupportedException(
                $"{rows} rows x {width} features do not fit in one array ({Array.MaxLength} values at most). Train on a sample of the rows.");
        return new float[Math.Max(length, width)];
    }
}
