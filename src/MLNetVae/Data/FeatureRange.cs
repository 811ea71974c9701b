using System.Globalization;

namespace MLNetVae.Data;

/// <summary>
/// Refuses training data whose values are so far apart that the model's reconstruction errors could not be
/// represented: <c>ReconstructionError</c> is the mean squared error in the input's original scale, computed in
/// float32 (by the transformer and by the saved ONNX graph), so it overflows to ∞ once the squared differences
/// summed over a row pass <see cref="float.MaxValue"/> (≈ 3.4e38). With standardization the model itself trains
/// fine on such data (1e20 or 1e30 become ordinary numbers), and every score would silently be ∞.
/// </summary>
internal static class FeatureRange
{
    /// <summary>
    /// Room left for scoring: the summed squared per-feature ranges of the training data must stay below
    /// float.MaxValue / 100, so a row whose every feature is off by up to 10x the training range still scores finite.
    /// </summary>
    public const double Margin = 100;

    public static void RequireRepresentableErrors(FeatureMatrix data, string columnName)
    {
        int d = data.Columns;
        var min = new float[d];
        var max = new float[d];
        data.Row(0).CopyTo(min);
        data.Row(0).CopyTo(max);
        for (int r = 1; r < data.Rows; r++)
        {
            var row = data.Row(r);
            for (int j = 0; j < d; j++)
            {
                if (row[j] < min[j]) min[j] = row[j];
                if (row[j] > max[j]) max[j] = row[j];
            }
        }
        RequireRepresentableErrors(min, max, columnName);
    }

    /// <summary>The same check from each feature's smallest and largest training value (the streaming path has only these).</summary>
    public static void RequireRepresentableErrors(float[] min, float[] max, string columnName)
    {
        int d = min.Length;
        double sum = 0;
        int widest = 0;
        double widestRange = -1;
        for (int j = 0; j < d; j++)
        {
            double range = (double)max[j] - min[j];
            sum += range * range;
            if (range > widestRange)
            {
                widestRange = range;
                widest = j;
            }
        }
        if (sum <= float.MaxValue / Margin)
            return;

        var culture = CultureInfo.InvariantCulture;
        throw new ArgumentException(
            $"Column '{columnName}' holds values too far apart for float32 scores: feature {widest} ranges from " +
            $"{min[widest].ToString("G6", culture)} to {max[widest].ToString("G6", culture)}. ReconstructionError is the mean squared " +
            "error in the input's original scale, and squared differences of this size overflow float32, so every score would be ∞. " +
            "Rescale the column before the VAE (ml.Transforms.NormalizeMeanVariance or NormalizeMinMax, or divide by a constant) " +
            $"so that the features' squared ranges add up to less than {(float.MaxValue / Margin).ToString("G2", culture)}.");
    }
}
