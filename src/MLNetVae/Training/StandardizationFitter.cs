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
    public static FeatureStandardization Fit(FeatureMatrix data, ReadOnlySpan<int> rows, double floorFraction, bool scaleNearConstantByExcursions = false)
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
        return FromMoments(mean, std, scaleNearConstantByExcursions ? ModalShare(data, rows) : null, floorFraction);
    }

    /// <summary>
    /// The standardization of features with these means and population standard deviations: each scale raised to
    /// <c>max(1e-6, floorFraction · mean standard deviation)</c>, constant features scale 1, and, when
    /// <paramref name="modalShare"/> is given, near-constant features scaled by their excursions. The in-memory fit (two
    /// passes) and the streaming one (<see cref="FeatureMoments"/>, one pass) both end here, so they differ only in how
    /// the moments were summed.
    /// </summary>
    public static FeatureStandardization FromMoments(double[] mean, double[] std, double[]? modalShare, double floorFraction)
    {
        int d = mean.Length;
        std = (double[])std.Clone();
        if (modalShare is not null)
        {
            // std² ≈ p · E[excursion²] for a feature that leaves its modal value in a share p of the rows, so std / √p is
            // the size of a typical excursion (see VaeTrainingOptions.ScaleNearConstantFeaturesByExcursions).
            for (int j = 0; j < d; j++)
                if (modalShare[j] > NearConstantShare && modalShare[j] < 1)
                    std[j] /= Math.Sqrt(1 - modalShare[j]);
        }
        double floor = Math.Max(AbsoluteScaleFloor, floorFraction * std.Average());
        // A constant column gets scale 1, not the floor: a value it never showed in training must not be
        // multiplied by 1/floor at scoring time. Near-constant columns are raised to the floor.
        var scale = std.Select((s, j) => s < AbsoluteScaleFloor * Math.Max(1, Math.Abs(mean[j])) ? 1.0 : Math.Max(s, floor));
        return new FeatureStandardization(mean.Select(m => (float)m).ToArray(), scale.Select(s => (float)s).ToArray());
    }

    /// <summary>
    /// A feature is near-constant when more than this share of the training rows hold one value. 0.99 rather than 0.9:
    /// measured, features that leave their common value in 1-10% of rows (digit strokes, common indicators) carry signal
    /// that excursion scaling weakened (docs/evaluation.md), while rarer excursions (an image border's specks) are noise.
    /// </summary>
    internal const double NearConstantShare = 0.99;

    /// <summary>
    /// Per feature, the share of <paramref name="rows"/> equal to its minimum or to its maximum, whichever is larger: where
    /// a near-constant feature's common value lies (0 for an image's border, the "absent" value of an indicator). Two
    /// passes; a continuous feature gets about 1 / rows.
    /// </summary>
    internal static double[] ModalShare(FeatureMatrix data, ReadOnlySpan<int> rows)
    {
        int d = data.Columns;
        var min = new float[d];
        var max = new float[d];
        Array.Fill(min, float.PositiveInfinity);
        Array.Fill(max, float.NegativeInfinity);
        foreach (int r in rows)
        {
            var row = data.Row(r);
            for (int j = 0; j < d; j++)
            {
                if (row[j] < min[j]) min[j] = row[j];
                if (row[j] > max[j]) max[j] = row[j];
            }
        }
        var atMin = new long[d];
        var atMax = new long[d];
        foreach (int r in rows)
        {
            var row = data.Row(r);
            for (int j = 0; j < d; j++)
            {
                if (row[j] == min[j]) atMin[j]++;
                if (row[j] == max[j]) atMax[j]++;
            }
        }
        var share = new double[d];
        for (int j = 0; j < d; j++)
            share[j] = Math.Max(atMin[j], atMax[j]) / (double)rows.Length;
        return share;
    }

    /// <summary>x ← (x − mean) / scale for every row, in float32 exactly as the exported ONNX encoder computes it.</summary>
    public static void ApplyInPlace(FeatureMatrix data, FeatureStandardization standardization)
    {
        for (int r = 0; r < data.Rows; r++)
            ApplyInPlace(data.Row(r), standardization);
    }

    /// <summary>x ← (x − mean) / scale for one row (the streaming path standardizes each row as it is read).</summary>
    public static void ApplyInPlace(Span<float> row, FeatureStandardization standardization)
    {
        var mean = standardization.Mean;
        var scale = standardization.Scale;
        for (int j = 0; j < row.Length; j++)
            row[j] = (row[j] - mean[j]) / scale[j];
    }
}
