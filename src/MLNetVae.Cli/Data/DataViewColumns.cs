using Microsoft.ML;
using Microsoft.ML.Data;

namespace MLNetVae.Cli.Data;

/// <summary>Reads whole columns of a data view into arrays (the data sets of the CLI fit in memory).</summary>
internal static class DataViewColumns
{
    public static float[] ReadSingles(IDataView data, string column, CancellationToken cancellationToken = default)
    {
        var result = new List<float>();
        var col = data.Schema[column];
        using var cursor = data.GetRowCursor(new[] { col });
        var getter = cursor.GetGetter<float>(col);
        float value = 0;
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
