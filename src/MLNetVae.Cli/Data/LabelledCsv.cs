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
/// The CSV format of the data sets: a header line, then one line per row, comma-separated (tab-separated for .tsv/.tab
/// files, and for .txt files whose header has a tab). The optional <c>Label</c> column (1 = anomaly, 0 = normal) comes
/// first by convention; every other column is a feature unless the command selects feature columns by name. Every value
/// a command uses is checked here, so a malformed file fails with the line and column, before any training.
/// </summary>
internal static class LabelledCsv
{
    public const string LabelColumn = "Label";
    public const string FeaturesColumn = "Features";
    private const char Comma = ',';

    private const string FormatHint =
        "Expected CSV: a header line, then one row per line; the Label column (1 = anomaly, 0 = normal) is optional and comes first, every other column is a number.";

    /// <summary>
    /// The demo's strict format: <c>Label</c> must be the first column and every other column is a feature. Loads
    /// <c>Label</c> (Single) and <c>Features</c> (vector of Single) with ML.NET's TextLoader after checking every line.
    /// </summary>
    public static LabelledData Load(MLContext ml, string path, CancellationToken cancellationToken = default)
    {
        var header = ReadHeader(path, Comma);
        if (!string.Equals(header[0], LabelColumn, StringComparison.OrdinalIgnoreCase))
            throw Malformed(path, $"starts with the column '{Shorten(header[0])}'; the first column must be '{LabelColumn}' (1 = anomaly, 0 = normal).");
        if (header.Length < 2)
            throw Malformed(path, "has a Label column but no feature columns.");
        var features = Enumerable.Range(1, header.Length - 1).ToArray();
        var labels = Scan(path, Comma, header, 0, features, cancellationToken).Labels!;
        var loaded = ml.Data.LoadFromTextFile(path, new[]
        {
            new TextLoader.Column(LabelColumn, DataKind.Single, 0),
            new TextLoader.Column(FeaturesColumn, DataKind.Single, 1, header.Length - 1),
        }, separatorChar: Comma, hasHeader: true);
        return new LabelledData(path, ml.Data.Cache(loaded), header.Length - 1, labels);
    }

    /// <summary>
    /// Loads a CSV file for train/score/evaluate: one Single column per selected feature, named as in the header, and
    /// the label column when there is one. See <see cref="ColumnSelection"/> for how columns are picked.
    /// </summary>
    public static TabularData LoadTable(MLContext ml, string path, ColumnSelection selection, CancellationToken cancellationToken = default)
    {
        char separator = SeparatorFor(path);
        var header = ReadHeader(path, separator);

        int labelIndex = Find(header, selection.LabelColumn);
        if (labelIndex < 0 && selection.LabelRequired)
            throw new CliException(
                $"The data file '{path}' has no column '{selection.LabelColumn}'{selection.LabelPurpose}. Its columns are: {List(header)}.",
                "Name the label column with --label-column (its values must be 0 = normal or 1 = anomaly).");

        int[] featureIndices;
        if (selection.InputColumns is { Count: > 0 } wanted)
        {
            var missing = wanted.Where(w => Find(header, w) < 0).ToList();
            if (missing.Count > 0)
                throw new CliException(
                    $"The data file '{path}' has no column{(missing.Count == 1 ? "" : "s")} {string.Join(", ", missing.Select(m => $"'{Shorten(m)}'"))} ({selection.InputColumnsSource}). Its columns are: {List(header)}.",
                    selection.InputColumnsHint);
            featureIndices = wanted.Select(w => Find(header, w)).ToArray();
            if (labelIndex >= 0 && featureIndices.Contains(labelIndex))
                throw new CliException($"The column '{header[labelIndex]}' is both the label and an input column.",
                    "Leave the label out of --input-column, or name another label with --label-column.");
        }
        else
        {
            featureIndices = Enumerable.Range(0, header.Length).Where(i => i != labelIndex).ToArray();
            if (featureIndices.Length == 0)
                throw Malformed(path, $"has only the label column '{header[labelIndex]}' and no feature columns.");
        }

        var (labels, rows) = Scan(path, separator, header, labelIndex, featureIndices, cancellationToken);

        // Columns are named as asked for (the model's names), whatever the header's case.
        var featureNames = selection.InputColumns is { Count: > 0 } asked ? asked.ToArray() : featureIndices.Select(i => header[i]).ToArray();
        var columns = featureIndices.Select((index, k) => new TextLoader.Column(featureNames[k], DataKind.Single, index)).ToList();
        if (labelIndex >= 0)
            columns.Add(new TextLoader.Column(header[labelIndex], DataKind.Single, labelIndex));
        var loaded = ml.Data.LoadFromTextFile(path, columns.ToArray(), separatorChar: separator, hasHeader: true, allowQuoting: true);
        return new TabularData(path, ml.Data.Cache(loaded), featureNames, featureIndices.Length,
            labelIndex >= 0 ? header[labelIndex] : null, labels, rows);
    }

    /// <summary>Comma, or tab for .tsv/.tab files and for .txt files whose first line has a tab.</summary>
    /// <summary>Whether the header of the text file <paramref name="path"/> names <paramref name="column"/> (matched as the loader matches it).</summary>
    public static bool HasColumn(string path, string column) => Find(ReadHeader(path, SeparatorFor(path)), column) >= 0;

    internal static char SeparatorFor(string path)
    {
        string extension = System.IO.Path.GetExtension(path).ToLowerInvariant();
        if (extension is ".tsv" or ".tab")
            return '\t';
        if (extension == ".txt")
        {
            using var reader = new StreamReader(path, detectEncodingFromByteOrderMarks: true);
            return reader.ReadLine()?.Contains('\t') == true ? '\t' : Comma;
        }
        return Comma;
    }

    private static string[] ReadHeader(string path, char separator)
    {
        string? line;
        using (var reader = new StreamReader(path, detectEncodingFromByteOrderMarks: true))
            line = reader.ReadLine();
        if (string.IsNullOrWhiteSpace(line))
            throw Malformed(path, "is empty; expected a header line with the column names, then the data rows.");
        if (!line.Contains(separator) && line.Contains(';'))
            throw Malformed(path,
                $"looks semicolon-separated: its header has {line.Count(c => c == ';')} ';' and no '{(separator == '\t' ? "tab" : separator.ToString())}'. " +
                "Save it comma-separated with a decimal point (or tab-separated as .tsv).");
        var names = line.Split(separator).Select(CleanName).ToArray();
        // A quoted name that holds the separator ("a,b") is split in two by this reader and would shift every column.
        int unbalanced = Array.FindIndex(names, n => n.StartsWith('"') != n.EndsWith('"') || (n.Length == 1 && n[0] == '"'));
        if (unbalanced >= 0)
            throw Malformed(path,
                $"has a quoted column name with a '{(separator == '\t' ? "tab" : separator.ToString())}' in it (near '{Shorten(names[unbalanced])}', column {unbalanced + 1} of its header). " +
                "Column names cannot contain the separator; rename that column.");
        for (int i = 0; i < names.Length; i++)
        {
            if (names[i].Length == 0)
                throw Malformed(path, $"has no name for column {i + 1} of its header; every column needs a name.");
            int first = Array.FindIndex(names, n => string.Equals(n, names[i], StringComparison.OrdinalIgnoreCase));
            if (first != i)
                throw Malformed(path, $"has the column name '{Shorten(names[i])}' twice in its header (columns {first + 1} and {i + 1}).");
        }
        return names;
    }

    /// <summary>
    /// Reads every line after the header: the same number of fields as the header, labels 0 or 1, and every feature a
    /// finite number. Returns the labels in file order (null without a label column) and the number of rows. Errors name
    /// the line and column.
    /// </summary>
    private static (float[]? Labels, int Rows) Scan(string path, char separator, string[] header, int labelIndex, int[] featureIndices, CancellationToken cancellationToken)
    {
        int fields = header.Length;
        var labels = labelIndex >= 0 ? new List<float>() : null;
        var fieldStarts = new int[fields + 1];
        int lineNumber = 1, rows = 0;
        using var reader = new StreamReader(path, detectEncodingFromByteOrderMarks: true);
        reader.ReadLine();
        for (string? line = reader.ReadLine(); line is not null; line = reader.ReadLine())
        {
            lineNumber++;
            if ((lineNumber & 0x3ff) == 0)
                cancellationToken.ThrowIfCancellationRequested();
            if (line.Length == 0)
                continue;
            int count = 1;
            fieldStarts[0] = 0;
            for (int i = 0; i < line.Length; i++)
            {
                if (line[i] != separator)
                    continue;
                if (count < fields)
                    fieldStarts[count] = i + 1;
                count++;
            }
            if (count != fields)
                throw Malformed(path, $"line {lineNumber} has {count} fields; the header has {fields}.");
            fieldStarts[fields] = line.Length + 1;
            rows++;

            if (labelIndex >= 0)
            {
                var text = Field(line, fieldStarts, labelIndex);
                if (!float.TryParse(text, NumberStyles.Float, CultureInfo.InvariantCulture, out float label) || (label != 0f && label != 1f))
                    throw Malformed(path, $"line {lineNumber}, column '{Shorten(header[labelIndex])}': the label is '{Shorten(text.ToString())}'; labels must be 0 (normal) or 1 (anomaly).");
                labels!.Add(label);
            }
            foreach (int column in featureIndices)
            {
                var text = Field(line, fieldStarts, column);
                if (!float.TryParse(text, NumberStyles.Float, CultureInfo.InvariantCulture, out float value) || !float.IsFinite(value))
                    throw new CliException(
                        $"The data file '{path}', line {lineNumber}, column '{Shorten(header[column])}' (field {column + 1}): " +
                        (text.IsEmpty ? "the value is empty" : $"'{Shorten(text.ToString())}' is not a finite number") + ".",
                        "Every feature value must be a number such as 0.25 or -1e-3. Fix or remove that row, or leave the column out with --input-column.");
            }
        }
        if (rows == 0)
            throw Malformed(path, "has a header but no data rows.");
        return (labels?.ToArray(), rows);
    }

    private static ReadOnlySpan<char> Field(string line, int[] fieldStarts, int index)
    {
        int start = fieldStarts[index];
        int end = fieldStarts[index + 1] - 1;
        return CleanValue(line.AsSpan(start, end - start));
    }

    private static ReadOnlySpan<char> CleanValue(ReadOnlySpan<char> text)
    {
        text = text.Trim();
        return text.Length >= 2 && text[0] == '"' && text[^1] == '"' ? text[1..^1].Trim() : text;
    }

    private static string CleanName(string name) => CleanValue(name.AsSpan()).ToString();

    /// <summary>The index of <paramref name="name"/> in the header: an exact match first, then ignoring case; -1 if absent.</summary>
    private static int Find(string[] header, string name)
    {
        int exact = Array.IndexOf(header, name);
        return exact >= 0 ? exact : Array.FindIndex(header, h => string.Equals(h, name, StringComparison.OrdinalIgnoreCase));
    }

    private static string List(string[] names) =>
        names.Length <= 8
            ? string.Join(", ", names.Select(n => $"'{Shorten(n)}'"))
            : string.Join(", ", names.Take(6).Select(n => $"'{Shorten(n)}'")) + $", ... '{Shorten(names[^1])}' ({names.Length} in all)";

    private static CliException Malformed(string path, string problem) => new($"The data file '{path}' {problem}", FormatHint);

    internal static string Shorten(string text) => text.Length <= 40 ? text : text[..40] + "...";
}
