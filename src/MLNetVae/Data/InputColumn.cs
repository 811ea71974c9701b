using Microsoft.ML;
using Microsoft.ML.Data;

namespace MLNetVae.Data;

/// <summary>Checks shared by training and scoring: the input column exists, has the right type and holds finite values.</summary>
internal static class InputColumn
{
    /// <summary>The option that names the featurizer's input column, which the "not found" error tells the user to set.</summary>
    public const string FeaturizerOption = "VaeOptions.InputColumnName";

    /// <summary>The detector's option for the same column.</summary>
    public const string DetectorOption = "VaeAnomalyOptions.FeatureColumnName";

    /// <summary>
    /// Finds a visible column of known-size <c>Vector&lt;Single&gt;</c> type or throws an error that names what was found
    /// instead and <paramref name="option"/>, the setting that names the column.
    /// </summary>
    public static DataViewSchema.Column Require(DataViewSchema schema, string name, int? expectedSize = null, string option = FeaturizerOption)
    {
        var column = schema.GetColumnOrNull(name);
        if (column is null || column.Value.IsHidden)
        {
            var available = string.Join(", ", schema.Where(c => !c.IsHidden).Select(c => $"'{c.Name}' ({c.Type})"));
            throw new ArgumentOutOfRangeException(nameof(name), name,
                $"Input column '{name}' was not found. Available columns: {available}. " +
                $"Set {option}, or build the column with ml.Transforms.Concatenate(\"" + name + "\", ...).");
        }

        var type = column.Value.Type;
        if (type is not VectorDataViewType vector || vector.ItemType != NumberDataViewType.Single || !vector.IsKnownSize)
            throw new ArgumentOutOfRangeException(nameof(name), name,
                $"Input column '{name}' has type {type}; the VAE needs a known-size vector of Single (e.g. Vector<Single, 768>). " +
                "Convert it with ml.Transforms.Conversion.ConvertType and/or ml.Transforms.Concatenate.");
        if (expectedSize is { } size && vector.Size != size)
            throw new ArgumentOutOfRangeException(nameof(name), name,
                $"Input column '{name}' has {vector.Size} features; this model was trained on {size}. " +
                "Score data prepared the same way as the training data.");
        return column.Value;
    }

    /// <summary>
    /// Copies one row read from a cursor into <paramref name="destination"/> (the model's input width). A cursor that
    /// breaks its schema's contract (a vector of another length than the column type says) gets an error naming the
    /// column and both lengths, instead of a row scored with stale or missing values.
    /// </summary>
    public static void CopyRow(in VBuffer<float> row, Span<float> destination, string columnName, long position)
    {
        if (row.Length != destination.Length)
            throw new InvalidOperationException(
                $"Column '{columnName}' row {position} has {row.Length} values; the column type and the model say {destination.Length}. " +
                "The data source returned a vector of another length than its schema declares; fix the source or the transform that produces the column.");
        row.CopyTo(destination);
    }

    /// <summary>
    /// Copies one training row read from a cursor into <paramref name="destination"/>: a vector of another length than
    /// the column type is an <see cref="ArgumentException"/>; a row with NaN/∞ is one too, or, with
    /// <paramref name="skipNonFinite"/>, false (the caller leaves it out). Both training paths read rows through this.
    /// </summary>
    public static bool CopyTrainingRow(in VBuffer<float> row, Span<float> destination, string columnName, long position, bool skipNonFinite)
    {
        if (row.Length != destination.Length)
            throw new ArgumentException($"Column '{columnName}' row {position} has {row.Length} values; the column type says {destination.Length}.");
        row.CopyTo(destination);
        if (skipNonFinite && !IsFinite(destination))
            return false;
        RequireFinite(destination, columnName, position);
        return true;
    }

    /// <summary>The error for training data without a usable row (none at all, or all left out for NaN/∞).</summary>
    public static ArgumentException NoTrainingRows(string columnName, long skippedNonFinite) =>
        skippedNonFinite > 0
            ? new ArgumentException(
                $"The training data has no rows with finite values in column '{columnName}': all {skippedNonFinite} rows hold NaN or ∞ " +
                "and VaeOptions.SkipNonFiniteRows left every one out. Replace the missing values (ml.Transforms.ReplaceMissingValues) or fix the source data.")
            : new ArgumentException(
                $"The training data has no rows (column '{columnName}'). Fit needs at least one row; check the loader and any filters before the VAE.");

    public static void RequireFinite(ReadOnlySpan<float> row, string columnName, long rowIndex)
    {
        for (int j = 0; j < row.Length; j++)
        {
            if (!float.IsFinite(row[j]))
                throw new ArgumentException(
                    $"Column '{columnName}' row {rowIndex} feature {j} is {row[j]}; training needs finite values. " +
                    "Remove such rows (ml.Data.FilterRowsByMissingValues, or VaeOptions.SkipNonFiniteRows = true) " +
                    "or replace them (ml.Transforms.ReplaceMissingValues).");
        }
    }

    public static bool IsFinite(ReadOnlySpan<float> row)
    {
        foreach (float value in row)
            if (!float.IsFinite(value))
                return false;
        return true;
    }
}
