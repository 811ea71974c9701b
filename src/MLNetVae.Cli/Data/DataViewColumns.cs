using Microsoft.ML;
using Microsoft.ML.Data;

namespace MLNetVae.Cli.Data;

/// <summary>Reads whole columns of a data view into arrays (the data sets of the CLI fit in memory).</summary>
internal static class DataViewColumns
{
    public static float[] ReadSingles(IDataView data, string column, CancellationToken cancellationToken = default) =>
        ReadScalars<float>(data, column, cancellationToken);

    public static bool[] ReadBooleans(IDataView data, string column, CancellationToken cancellationToken = default) =>
        ReadScalars<bool>(data, column, cancellationToken);

    private static T[] ReadScalars<T>(IDataView data, string column, CancellationToken cancellationToken)
    {
        var result = new List<T>();
        var col = data.Schema[column];
        using var cursor = data.GetRowCursor(new[] { col });
        var getter = cursor.GetGetter<T>(col);
        T value = default!;
        while (cursor.MoveNext())
        {
            if ((cursor.Position & 0xff) == 0)
                cancellationToken.ThrowIfCancellationRequested();
            getter(ref value);
            result.Add(value);
        }
        return result.ToArray();
    }

    public static float[][] ReadVectors(IDataView data, string column, CancellationToken cancellationToken = default)
    {
        var result = new List<float[]>();
        var col = data.Schema[column];
        using var cursor = data.GetRowCursor(new[] { col });
        var getter = cursor.GetGetter<VBuffer<float>>(col);
        var buffer = default(VBuffer<float>);
        while (cursor.MoveNext())
        {
            if ((cursor.Position & 0xff) == 0)
                cancellationToken.ThrowIfCancellationRequested();
            getter(ref buffer);
            result.Add(buffer.DenseValues().ToArray());
        }
        return result.ToArray();
    }
}
