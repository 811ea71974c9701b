using MLNetVae.Data;
using MLNetVae.Model;

namespace MLNetVae.Training;

/// <summary>Fits <see cref="FeatureStandardization"/> on chosen rows and applies it in place.</summary>
internal static class StandardizationFitter
{
    /// <summary>Smallest scale ever used, whatever the data: keeps (x − mean) / scale finite.</summary>
    public const float AbsoluteScaleFloor = 1e-6f;

    /// <summary>
    /// Mean and population standard deviation per feature over <paramref name="rows"/>, each scale raised to
    /// <c>max(1e-6, floorFraction · mean standard deviation)</c>; constant features get scale 1. Two passes in
    /// double (the data is in memory).
    /// </summary>
    public static FeatureStandardization Fit(FeatureMatrix data, ReadOnlySpan<int> rows, double floorFraction)
    {
        int d = data.Columns;
        var sum = new double[d];
        foreach (int r in rows)
        {
            var row = data.Row(r);
            for (int j = 0; j < d; j++) sum[j] += row[j];
        }
        var mean = new double[d];
        for (int j = 0; j < d; j++) mean[j] = sum[j] / rows.Length;

        var squares = new double[d];
        foreach (int r in rows)
        {
            var row = data.Row(r);
            for (int j = 0; j < d; j++)
            {
                double delta = row[j] - mean[j];
                squares[j] += delta * delta;
            }
        }
        int count = rows.Length;
        var std = squares.Select(s => Math.Sqrt(s / count)).ToArray();
        double floor = Math.Max(AbsoluteScaleFloor, floorFraction * std.Average());
        // A constant column gets scale 1, not the floor: a value it never showed in training must not be
        // multiplied by 1/floor at scoring time. Near-constant columns are raised to the floor.
        var scale = std.Select((s, j) => s < AbsoluteScaleFloor * Math.Max(1, Math.Abs(mean[j])) ? 1.0 : Math.Max(s, floor));
        return new FeatureStandardization(mean.Select(m => (float)m).ToArray(), scale.Select(s => (float)s).ToArray());
    }

    /// <summary>x ← (x − mean) / scale for every row, in float32 exactly as the exported ONNX encoder computes it.</summary>
    public static void ApplyInPlace(FeatureMatrix data, FeatureStandardization standardization)
    {
        var mean = standardization.Mean;
        var scale = standardization.Scale;
        for (int r = 0; r < data.Rows; r++)
        {
            var row = data.Row(r);
            for (int j = 0; j < row.Length; j++)
                row[j] = (row[j] - mean[j]) / scale[j];
        }
    }
}
