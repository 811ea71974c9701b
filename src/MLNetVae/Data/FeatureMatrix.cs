using Microsoft.ML;
using Microsoft.ML.Data;

namespace MLNetVae.Data;

/// <summary>Rows of one vector column copied into a dense row-major <c>float</c> array.</summary>
internal sealed class FeatureMatrix
{
    public FeatureMatrix(float[] values, int rows, int columns)
    {
        if (values.Length < (long)rows * columns)
            throw new ArgumentException("The value buffer is smaller than rows x columns.", nameof(values));
        Values = values;
        Rows = rows;
        Columns = columns;
    }

    /// <summary>Row-major; may be longer than <c>Rows * Columns</c> (the tail is unused).</summary>
    public float[] Values { get; }
    public int Rows { get; }
    public int Columns { get; }

    public Span<float> Row(int row) => Values.AsSpan(row * Columns, Columns);

    /// <summary>
    /// Reads <paramref name="columnName"/> of every row. Sparse vectors are densified. Throws a clear
    /// <see cref="ArgumentException"/> for a missing or ill-typed column, no rows, or a NaN/∞ value
    /// (naming the column, the row and the feature).
    /// </summary>
    public static FeatureMatrix Read(IDataView data, string columnName, CancellationToken cancellationToken = default)
    {
        var column = InputColumn.Require(data.Schema, columnName);
        int width = ((VectorDataViewType)column.Type).Size;
        long? knownRows = data.GetRowCount();
        long capacity = knownRows ?? 1024;
        float[] values = Allocate(capacity, width);
        int rows = 0;

        using (var cursor = data.GetRowCursor(new[] { column }))
        {
            var getter = cursor.GetGetter<VBuffer<float>>(column);
            var buffer = default(VBuffer<float>);
            while (cursor.MoveNext())
            {
                if ((rows & 1023) == 0)
                    cancellationToken.ThrowIfCancellationRequested();
                if ((long)(rows + 1) * width > values.Length)
                    Array.Resize(ref values, (int)Math.Min((long)Array.MaxLength, Math.Max(2L * values.Length, (long)(rows + 1) * width)));
                getter(ref buffer);
                if (buffer.Length != width)
                    throw new ArgumentException(
                        $"Column '{columnName}' row {rows} has {buffer.Length} values; the column type says {width}.");
                var row = values.AsSpan(rows * width, width);
                buffer.CopyTo(row);
                InputColumn.RequireFinite(row, columnName, rows);
                rows++;
            }
        }

        if (rows == 0)
            throw new ArgumentException(
                $"The training data has no rows (column '{columnName}'). Fit needs at least one row; check the loader and any filters before the VAE.");
        return new FeatureMatrix(values, rows, width);
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
