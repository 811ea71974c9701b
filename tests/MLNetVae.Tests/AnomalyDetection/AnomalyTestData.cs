using Microsoft.ML;
using Microsoft.ML.Data;

namespace MLNetVae.Tests.AnomalyDetection;

/// <summary>Readers for the anomaly detector's columns.</summary>
internal static class AnomalyTestData
{
    public static bool[] ReadBooleans(IDataView data, string column)
    {
        var result = new List<bool>();
        using var cursor = data.GetRowCursor(new[] { data.Schema[column] });
        var getter = cursor.GetGetter<bool>(data.Schema[column]);
        bool value = false;
        while (cursor.MoveNext())
        {
            getter(ref value);
            result.Add(value);
        }
        return result.ToArray();
    }

    /// <summary>Score per row id, read by <paramref name="cursors"/> (possibly in parallel).</summary>
    public static Dictionary<DataViewRowId, float> ScoresById(DataViewRowCursor[] cursors, string column)
    {
        var result = new Dictionary<DataViewRowId, float>();
        Parallel.ForEach(cursors, cursor =>
        {
            using (cursor)
            {
                var id = cursor.GetIdGetter();
                var score = cursor.GetGetter<float>(cursor.Schema[column]);
                DataViewRowId rowId = default;
                float value = 0;
                while (cursor.MoveNext())
                {
                    id(ref rowId);
                    score(ref value);
                    lock (result)
                        result.Add(rowId, value);
                }
            }
        });
        return result;
    }

    /// <summary>Relative closeness for floats computed by different but equivalent paths (batch sizes, float vs double sums).</summary>
    public static bool Close(double expected, double actual, double relative = 1e-5) =>
        Math.Abs(expected - actual) <= relative * Math.Max(1e-6, Math.Abs(expected));
}
