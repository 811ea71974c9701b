using System.Globalization;
using Microsoft.ML;
using Microsoft.ML.Data;
using MLNetVae.Cli.Infrastructure;

namespace MLNetVae.Cli.Data;

/// <summary>A labelled data set loaded by <see cref="LabelledCsv.Load"/>.</summary>
/// <param name="Path">Absolute path of the CSV file.</param>
/// <param name="Data">Columns <c>Label</c> (Single, 1 = anomaly, 0 = normal) and <c>Features</c> (vector of Single), cached in memory.</param>
/// <param name="FeatureCount">Number of features (header fields after <c>Label</c>).</param>
/// <param name="Labels">The label of every row, in file order.</param>
internal sealed record LabelledData(string Path, IDataView Data, int FeatureCount, float[] Labels)
{
    /// <summary>Number of data rows.</summary>
    public int RowCount => Labels.Length;

    /// <summary>Rows labelled 1.</summary>
    public int AnomalyCount => Labels.Count(l => l == 1f);
}

/// <summary>
/// The CSV format of the data sets: a header line, the <c>Label</c> column first (1 = anomaly, 0 = normal), then the
/// float feature columns, comma-separated; the number of features comes from the header. Every command reads it here.
/// </summary>
internal static class LabelledCsv
{
    public const string LabelColumn = "Label";
    public const string FeaturesColumn = "Features";
    private const char Separator = ',';

    /// <summary>
    /// Checks the file's shape (header, <c>Label</c> first, the same number of fields on every line, labels 0 or 1)
    /// and loads it with ML.NET's TextLoader. Malformed files throw a <see cref="CliException"/> (exit code 2) naming
    /// the line; feature values that are not numbers are caught later by the estimator, which names the row.
    /// </summary>
    public static LabelledData Load(MLContext ml, string path, CancellationToken cancellationToken = default)
    {
        var (featureCount, labels) = Check(path, cancellationToken);
        var loaded = ml.Data.LoadFromTextFile(path, new[]
        {
            new TextLoader.Column(LabelColumn, DataKind.Single, 0),
            new TextLoader.Column(FeaturesColumn, DataKind.Single, 1, featureCount),
        }, separatorChar: Separator, hasHeader: true);
        return new LabelledData(path, ml.Data.Cache(loaded), featureCount, labels);
    }

    private static (int FeatureCount, float[] Labels) Check(string path, CancellationToken cancellationToken)
    {
        using var reader = new StreamReader(path, detectEncodingFromByteOrderMarks: true);
        string? header = reader.ReadLine();
        if (string.IsNullOrWhiteSpace(header))
            throw Malformed(path, "is empty; expected a header line 'Label,<feature>,...' followed by data rows.");
        var names = header.Split(Separator);
        if (!string.Equals(names[0].Trim().Trim('"'), LabelColumn, StringComparison.OrdinalIgnoreCase))
            throw Malformed(path, $"starts with the column '{Shorten(names[0])}'; the first column must be '{LabelColumn}' (1 = anomaly, 0 = normal).");
        int fields = names.Length;
        if (fields < 2)
            throw Malformed(path, "has a Label column but no feature columns.");

        var labels = new List<float>();
        int lineNumber = 1;
        for (string? line = reader.ReadLine(); line is not null; line = reader.ReadLine())
        {
            lineNumber++;
            if ((lineNumber & 0x3ff) == 0)
                cancellationToken.ThrowIfCancellationRequested();
            if (line.Length == 0)
                continue;
            int count = line.AsSpan().Count(Separator) + 1;
            if (count != fields)
                throw Malformed(path, $"line {lineNumber} has {count} fields; the header has {fields} (Label + {fields - 1} features).");
            var labelText = line.AsSpan(0, line.IndexOf(Separator)).Trim();
            if (!float.TryParse(labelText, NumberStyles.Float, CultureInfo.InvariantCulture, out float label) || (label != 0f && label != 1f))
                throw Malformed(path, $"line {lineNumber} has the label '{Shorten(labelText.ToString())}'; labels must be 0 (normal) or 1 (anomaly).");
            labels.Add(label);
        }
        if (labels.Count == 0)
            throw Malformed(path, "has a header but no data rows.");
        return (fields - 1, labels.ToArray());
    }

    private static CliException Malformed(string path, string problem) =>
        new($"The data file '{path}' {problem}",
            "Expected CSV: a header line, the Label column first (1 = anomaly, 0 = normal), then one column per feature.");

    private static string Shorten(string text) => text.Length <= 40 ? text : text[..40] + "...";
}
