using Microsoft.ML;

namespace MLNetVae.Cli.Data;

/// <summary>A data file loaded for train, score or evaluate (<see cref="DataFile.Load"/>).</summary>
/// <param name="Path">Absolute path of the file.</param>
/// <param name="Data">The feature columns (Single, or known-size vectors of Single) and the label column if any, cached in memory.</param>
/// <param name="FeatureColumns">The columns that make up the features, in order (concatenated into the VAE's input vector).</param>
/// <param name="FeatureCount">Number of features (the sum of the feature columns' sizes).</param>
/// <param name="LabelColumn">The label column's name, or null when the data has none.</param>
/// <param name="Labels">Every row's label (0 = normal, 1 = anomaly) in file order, or null without a label column.</param>
/// <param name="RowCount">Number of data rows.</param>
internal sealed record TabularData(string Path, IDataView Data, IReadOnlyList<string> FeatureColumns, int FeatureCount,
    string? LabelColumn, float[]? Labels, int RowCount)
{
    /// <summary>Rows labelled 1 (0 without labels).</summary>
    public int AnomalyCount => Labels?.Count(l => l == 1f) ?? 0;
}

/// <summary>Which columns of a data file a command reads.</summary>
/// <param name="LabelColumn">Name of the label column (matched exactly first, then ignoring case).</param>
/// <param name="LabelRequired">Whether a missing label column is an error (--label-column given, or evaluate) rather than "all columns are features".</param>
/// <param name="InputColumns">Feature columns by name, in order; null or empty: every column except the label.</param>
/// <param name="InputColumnsSource">Where <paramref name="InputColumns"/> came from, for messages ("--input-column", "the model's input columns").</param>
/// <param name="InputColumnsHint">What to do when one of them is missing.</param>
/// <param name="LabelPurpose">Appended to the missing-label message, e.g. " (evaluate needs labels)".</param>
internal sealed record ColumnSelection(
    string LabelColumn,
    bool LabelRequired,
    IReadOnlyList<string>? InputColumns = null,
    string InputColumnsSource = "--input-column",
    string InputColumnsHint = "Check the names given to --input-column (comma-separated header names).",
    string LabelPurpose = "");
