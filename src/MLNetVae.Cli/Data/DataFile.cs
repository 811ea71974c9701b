using Microsoft.ML;
using Microsoft.ML.Data;
using MLNetVae.Cli.Infrastructure;

namespace MLNetVae.Cli.Data;

/// <summary>
/// Opens a command's data file by its extension: CSV/TSV/TXT text with a header (<see cref="LabelledCsv"/>), ML.NET's
/// binary data view format (<c>.idv</c>, written by <c>mlContext.Data.SaveAsBinary</c>), whose columns keep their types,
/// or Parquet (<c>.parquet</c>, <see cref="ParquetDataView"/>). The binary formats stream: they are read again in every
/// pass rather than cached, so a file larger than memory trains and scores (text is cached, its parsing being the cost).
/// </summary>
internal static class DataFile
{
    public const string FormatsText = "CSV/TSV text with a header, ML.NET binary (.idv) or Parquet (.parquet)";

    public static TabularData Load(MLContext ml, string path, ColumnSelection selection, CancellationToken cancellationToken = default) =>
        KindOf(path) switch
        {
            Kind.Binary => LoadBinary(ml, path, selection, cancellationToken),
            Kind.Parquet => LoadParquet(ml, path, selection, cancellationToken),
            _ => LabelledCsv.LoadTable(ml, path, selection, cancellationToken),
        };

    /// <summary>How <see cref="Load"/> reads a file: by its extension, text for anything not a typed format.</summary>
    public static Kind KindOf(string path) => Path.GetExtension(path).ToLowerInvariant() switch
    {
        ".idv" => Kind.Binary,
        ".parquet" or ".parq" => Kind.Parquet,
        _ => Kind.Text,
    };

    public enum Kind { Text, Binary, Parquet }

    /// <summary>
    /// An ML.NET binary file. Features: the named input columns, or else a column called <c>Features</c>, or else every
    /// Single column (scalar or known-size vector) except the label. The label may be Single (0/1) or Boolean.
    /// </summary>
    private static TabularData LoadBinary(MLContext ml, string path, ColumnSelection selection, CancellationToken cancellationToken)
    {
        IDataView data;
        try
        {
            data = ml.Data.LoadFromBinary(path);
            _ = data.Schema.Count;
        }
        catch (Exception e) when (e is InvalidOperationException or FormatException or InvalidDataException or IOException or ArgumentException)
        {
            throw new CliException($"The data file '{path}' is not a readable ML.NET binary data file ({e.Message.Split('\n')[0]}).",
                "Files ending in .idv must be written by mlContext.Data.SaveAsBinary; use .csv for text.");
        }
        return Select(ml, data, path, selection, cancellationToken);
    }

    private static TabularData LoadParquet(MLContext ml, string path, ColumnSelection selection, CancellationToken cancellationToken)
    {
        var view = ParquetDataView.Open(path);
        view.RequireSupported((selection.InputColumns ?? []).Append(selection.LabelColumn));
        return Select(ml, view, path, selection, cancellationToken);
    }

    /// <summary>
    /// The label and feature columns of a typed file (.idv or Parquet). Features: the named input columns, or else a column
    /// called <c>Features</c>, or else every Single column (scalar or known-size vector) except the label.
    /// </summary>
    private static TabularData Select(MLContext ml, IDataView data, string path, ColumnSelection selection, CancellationToken cancellationToken)
    {
        var schema = data.Schema;
        string Names() => string.Join(", ", schema.Where(c => !c.IsHidden).Select(c => $"'{c.Name}' ({c.Type})"));

        var label = Find(schema, selection.LabelColumn);
        if (label is null && selection.LabelRequired)
            throw new CliException($"The data file '{path}' has no column '{selection.LabelColumn}'{selection.LabelPurpose}. Its columns are: {Names()}.",
                "Name the label column with --label-column (Single 0/1 or Boolean).");
        if (label is { } l && l.Type != NumberDataViewType.Single && l.Type != BooleanDataViewType.Instance)
            throw new CliException($"The label column '{l.Name}' of '{path}' is {l.Type}; it must be Single (0 or 1) or Boolean.",
                "Convert it when writing the file, or name another column with --label-column.");

        List<DataViewSchema.Column> features;
        if (selection.InputColumns is { Count: > 0 } wanted)
        {
            var missing = wanted.Where(w => Find(schema, w) is null).ToList();
            if (missing.Count > 0)
                throw new CliException(
                    $"The data file '{path}' has no column{(missing.Count == 1 ? "" : "s")} {string.Join(", ", missing.Select(m => $"'{m}'"))} ({selection.InputColumnsSource}). Its columns are: {Names()}.",
                    selection.InputColumnsHint);
            features = wanted.Select(w => Find(schema, w)!.Value).ToList();
        }
        else if (Find(schema, LabelledCsv.FeaturesColumn) is { } vector)
        {
            features = [vector];
        }
        else
        {
            features = schema.Where(c => !c.IsHidden && c.Index != label?.Index && IsSingles(c.Type)).ToList();
            if (features.Count == 0)
                throw new CliException($"The data file '{path}' has no Single columns to use as features. Its columns are: {Names()}.",
                    "Name the feature columns with --input-column.");
        }
        foreach (var column in features)
        {
            if (!IsSingles(column.Type))
                throw new CliException($"The column '{column.Name}' of '{path}' is {column.Type}; feature columns must be Single or known-size vectors of Single.",
                    "Convert it when writing the file (mlContext.Transforms.Conversion.ConvertType), or leave it out of --input-column.");
            if (label is { } lab && lab.Index == column.Index)
                throw new CliException($"The column '{column.Name}' is both the label and an input column.",
                    "Leave the label out of --input-column, or name another label with --label-column.");
        }

        float[]? labels = label is { } labelColumn ? ReadLabels(data, labelColumn, path, cancellationToken) : null;
        int rows = labels?.Length ?? CountRows(data, cancellationToken);
        if (rows == 0)
            throw new CliException($"The data file '{path}' has no rows.", "Pass a file with data.");

        // Keep only what the commands read, in memory.
        var keep = features.Select(c => c.Name).Concat(label is { } k ? [k.Name] : []).ToArray();
        IDataView selected = ml.Transforms.SelectColumns(keep).Fit(data).Transform(data);
        // Columns matched ignoring case get the name that was asked for (the model's), like the CSV reader does.
        var names = selection.InputColumns is { Count: > 0 } asked ? asked.ToArray() : features.Select(c => c.Name).ToArray();
        for (int i = 0; i < names.Length; i++)
            if (names[i] != features[i].Name)
                selected = ml.Transforms.CopyColumns(names[i], features[i].Name).Fit(selected).Transform(selected);
        int featureCount = features.Sum(c => c.Type is VectorDataViewType v ? v.Size : 1);
        return new TabularData(path, selected, names, featureCount, label?.Name, labels, rows);
    }

    private static bool IsSingles(DataViewType type) =>
        type == NumberDataViewType.Single || type is VectorDataViewType { ItemType: var item, IsKnownSize: true } && item == NumberDataViewType.Single;

    private static DataViewSchema.Column? Find(DataViewSchema schema, string name) =>
        schema.GetColumnOrNull(name) is { IsHidden: false } exact
            ? exact
            : schema.Where(c => !c.IsHidden).Cast<DataViewSchema.Column?>()
                .FirstOrDefault(c => string.Equals(c!.Value.Name, name, StringComparison.OrdinalIgnoreCase));

    /// <summary>The labels (0 or 1) of every row of <paramref name="data"/>; <paramref name="path"/> names the file in errors.</summary>
    internal static float[] ReadLabels(IDataView data, DataViewSchema.Column column, string path, CancellationToken cancellationToken)
    {
        var labels = new List<float>();
        using var cursor = data.GetRowCursor(new[] { column });
        if (column.Type == BooleanDataViewType.Instance)
        {
            var getter = cursor.GetGetter<bool>(column);
            bool value = false;
            while (cursor.MoveNext())
            {
                getter(ref value);
                labels.Add(value ? 1f : 0f);
            }
            return labels.ToArray();
        }
        var singles = cursor.GetGetter<float>(column);
        float label = 0;
        while (cursor.MoveNext())
        {
            if ((cursor.Position & 0x3ff) == 0)
                cancellationToken.ThrowIfCancellationRequested();
            singles(ref label);
            if (label != 0f && label != 1f)
                throw new CliException($"The data file '{path}', row {cursor.Position + 1}, column '{column.Name}': the label is {label}; labels must be 0 (normal) or 1 (anomaly).",
                    "Fix the labels, or name another column with --label-column.");
            labels.Add(label);
        }
        return labels.ToArray();
    }

    /// <summary>Rows of <paramref name="data"/>, counted by a cursor that reads no column.</summary>
    internal static int CountRows(IDataView data, CancellationToken cancellationToken)
    {
        int rows = 0;
        using var cursor = data.GetRowCursor(Array.Empty<DataViewSchema.Column>());
        while (cursor.MoveNext())
        {
            if ((++rows & 0x3ff) == 0)
                cancellationToken.ThrowIfCancellationRequested();
        }
        return rows;
    }
}
