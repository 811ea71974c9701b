using Microsoft.ML;
using Microsoft.ML.Data;
using MLNetVae.Cli.Infrastructure;
using Parquet;
using Parquet.Schema;

namespace MLNetVae.Cli.Data;

/// <summary>
/// A Parquet file as an ML.NET data view that streams: a cursor decodes one row group of the columns it reads at a time
/// (Parquet.Net), so memory holds one row group, not the file. Numeric columns (float, double, 8–64-bit integers, and
/// booleans for a label) become Single columns (Boolean for booleans); a list column of float or double becomes a
/// known-size vector of Single (the usual layout of embeddings written by pandas / pyarrow / polars). A null (or an empty
/// list) is refused with its row and column, as a missing CSV value is. Other columns (strings, nested groups) are not offered.
/// </summary>
/// <remarks>
/// Every row of a list column must hold the same number of values: the size comes from the first row group's metadata
/// (values / rows) and every row read is checked, with an error naming the file, column and row.
/// </remarks>
internal sealed class ParquetDataView : IDataView
{
    private readonly string path;
    private readonly Source[] sources;
    private readonly long rowCount;
    private readonly long[] rowGroupRows;

    /// <summary>One data view column: the Parquet leaf it reads and, for a list, the values per row.</summary>
    private sealed record Source(string Name, DataField Field, bool IsList, int Size, bool IsBoolean);

    private ParquetDataView(string path, Source[] sources, long[] rowGroupRows, IReadOnlyDictionary<string, string> unsupported)
    {
        UnsupportedColumns = unsupported;
        this.path = path;
        this.sources = sources;
        this.rowGroupRows = rowGroupRows;
        rowCount = rowGroupRows.Sum();
        var builder = new DataViewSchema.Builder();
        foreach (var source in sources)
            builder.AddColumn(source.Name, source.IsList
                ? new VectorDataViewType(NumberDataViewType.Single, source.Size)
                : source.IsBoolean ? BooleanDataViewType.Instance : NumberDataViewType.Single);
        Schema = builder.ToSchema();
    }

    /// <summary>Reads the footer of <paramref name="path"/>; a file that is not Parquet (or was cut short) is a <see cref="CliException"/>.</summary>
    public static ParquetDataView Open(string path)
    {
        try
        {
            var reader = Run(() => ParquetReader.CreateAsync(path));
            try
            {
                return FromReader(path, reader);
            }
            finally
            {
                Run(() => reader.DisposeAsync());
            }
        }
        catch (Exception e) when (e is IOException or InvalidDataException or NotSupportedException or ArgumentException or InvalidOperationException
                                      or Parquet.ParquetException or FormatException)
        {
            throw new CliException($"The data file '{path}' is not a readable Parquet file ({e.Message.Split('\n')[0]}).",
                "Files ending in .parquet must be complete Parquet files (a copy that was cut short has no footer); use .csv for text.");
        }
    }

    private static ParquetDataView FromReader(string path, ParquetReader reader)
    {
        var sources = new List<Source>();
        var unsupported = new Dictionary<string, string>(StringComparer.OrdinalIgnoreCase);
        foreach (var field in reader.Schema.Fields)
        {
            if (field is DataField data && Numeric(data.ClrType) is var (ok, isBoolean) && ok)
                sources.Add(new Source(data.Name, data, IsList: false, Size: 1, isBoolean));
            else if (field is ListField { Item: DataField item } list && (item.ClrType == typeof(float) || item.ClrType == typeof(double)))
                sources.Add(new Source(list.Name, item, IsList: true, ListSize(reader, item, list.Name, path), IsBoolean: false));
            else
                unsupported[field.Name] = field is DataField other ? TypeName(other.ClrType) : field is ListField { Item: DataField i } ? $"a list of {TypeName(i.ClrType)}" : $"a {field.SchemaType} field";
        }
        var rowGroups = reader.RowGroups.Select(g => g.RowCount).ToArray();
        return new ParquetDataView(path, sources.ToArray(), rowGroups, unsupported);
    }

    /// <summary>Columns of the file that are not offered (strings, nested groups, lists of non-floats), by name, with their type in words.</summary>
    public IReadOnlyDictionary<string, string> UnsupportedColumns { get; }

    /// <summary>
    /// A <see cref="CliException"/> when <paramref name="names"/> (the asked-for label or input columns) names a column this
    /// view does not offer, saying what it is; otherwise nothing (a missing column gets the usual error later).
    /// </summary>
    public void RequireSupported(IEnumerable<string?> names)
    {
        foreach (var name in names)
            if (name is not null && Schema.GetColumnOrNull(name) is null && UnsupportedColumns.TryGetValue(name, out var type))
                throw new CliException($"The column '{name}' of '{path}' is {type}; feature and label columns must be numbers, booleans (a label) or lists of float/double (a vector).",
                    "Convert it when writing the file, or name other columns with --input-column / --label-column.");
    }

    public bool CanShuffle => false;
    public DataViewSchema Schema { get; }
    public long? GetRowCount() => rowCount;

    public DataViewRowCursor GetRowCursor(IEnumerable<DataViewSchema.Column> columnsNeeded, Random? rand = null) =>
        new Cursor(this, columnsNeeded.Select(c => c.Index).ToHashSet());

    public DataViewRowCursor[] GetRowCursorSet(IEnumerable<DataViewSchema.Column> columnsNeeded, int n, Random? rand = null) =>
        [GetRowCursor(columnsNeeded, rand)];

    private static string TypeName(Type type) =>
        type == typeof(string) || type == typeof(ReadOnlyMemory<char>) ? "text (String)" : type == typeof(byte[]) ? "binary" : type.Name;

    private static (bool Numeric, bool Boolean) Numeric(Type type) =>
        type == typeof(bool) ? (true, true)
        : (type == typeof(float) || type == typeof(double) || type == typeof(int) || type == typeof(long) || type == typeof(short)
           || type == typeof(sbyte) || type == typeof(byte) || type == typeof(ushort) || type == typeof(uint), false);

    /// <summary>Values per row of a list column, from the first row group's metadata (values / rows, which must divide).</summary>
    private static int ListSize(ParquetReader reader, DataField item, string name, string path)
    {
        if (reader.RowGroupCount == 0)
            return 0;
        using var group = reader.OpenRowGroupReader(0);
        long values = group.GetMetadata(item)?.MetaData?.NumValues ?? 0;
        if (group.RowCount == 0 || values % group.RowCount != 0 || values / group.RowCount > int.MaxValue)
            throw new CliException(
                $"The list column '{name}' of '{path}' holds {values} values in the {group.RowCount} rows of its first row group: its rows have different lengths.",
                "Every row of a vector column must hold the same number of values (one embedding size); fix the file or pass numeric columns instead.");
        return (int)(values / group.RowCount);
    }

    private static T Run<T>(Func<Task<T>> action) => action().GetAwaiter().GetResult();

    private static void Run(Func<ValueTask> action) => action().AsTask().GetAwaiter().GetResult();

    private sealed class Cursor : DataViewRowCursor
    {
        private readonly ParquetDataView view;
        private readonly HashSet<int> active;
        private readonly ParquetReader reader;
        private readonly float[]?[] columns; // the current row group's values of each active column (row-major for lists)
        private int group = -1;
        private long rowInGroup;
        private long position = -1;

        public Cursor(ParquetDataView view, HashSet<int> active)
        {
            this.view = view;
            this.active = active;
            reader = Run(() => ParquetReader.CreateAsync(view.path));
            columns = new float[]?[view.sources.Length];
        }

        public override DataViewSchema Schema => view.Schema;
        public override long Position => position;
        public override long Batch => 0;
        public override bool IsColumnActive(DataViewSchema.Column column) => active.Contains(column.Index);

        public override ValueGetter<DataViewRowId> GetIdGetter() =>
            (ref DataViewRowId value) => value = new DataViewRowId((ulong)position, 0);

        public override bool MoveNext()
        {
            while (group < 0 || rowInGroup + 1 >= view.rowGroupRows[group])
            {
                if (group + 1 >= view.rowGroupRows.Length)
                    return false;
                group++;
                rowInGroup = -1;
                if (view.rowGroupRows[group] > 0)
                    ReadGroup();
            }
            rowInGroup++;
            position++;
            return true;
        }

        public override ValueGetter<TValue> GetGetter<TValue>(DataViewSchema.Column column)
        {
            if (!active.Contains(column.Index))
                throw new InvalidOperationException($"Column '{column.Name}' is not active in this cursor.");
            var source = view.sources[column.Index];
            if (source.IsList)
            {
                ValueGetter<VBuffer<float>> vector = (ref VBuffer<float> value) =>
                {
                    var editor = VBufferEditor.Create(ref value, source.Size);
                    columns[column.Index].AsSpan((int)rowInGroup * source.Size, source.Size).CopyTo(editor.Values);
                    value = editor.Commit();
                };
                return (ValueGetter<TValue>)(Delegate)vector;
            }
            if (source.IsBoolean)
            {
                ValueGetter<bool> flag = (ref bool value) => value = columns[column.Index]![rowInGroup] != 0;
                return (ValueGetter<TValue>)(Delegate)flag;
            }
            ValueGetter<float> scalar = (ref float value) => value = columns[column.Index]![rowInGroup];
            return (ValueGetter<TValue>)(Delegate)scalar;
        }

        /// <summary>Decodes the active columns of the current row group.</summary>
        private void ReadGroup()
        {
            using var rowGroup = reader.OpenRowGroupReader(group);
            int rows = checked((int)rowGroup.RowCount);
            foreach (int index in active)
            {
                var source = view.sources[index];
                try
                {
                    columns[index] = source.IsList ? ReadList(rowGroup, source, rows) : ReadScalars(rowGroup, source, rows);
                }
                catch (Exception e) when (e is IOException or InvalidDataException or ArgumentException or InvalidOperationException or Parquet.ParquetException)
                {
                    throw new CliException($"The data file '{view.path}' could not be read: row group {group + 1}, column '{source.Name}': {e.Message.Split('\n')[0]}.",
                        "The file is damaged (cut short or overwritten); write it again.");
                }
            }
        }

        private float[] ReadList(Parquet.ParquetRowGroupReader rowGroup, Source source, int rows)
        {
            long entries = rowGroup.GetMetadata(source.Field)?.MetaData?.NumValues ?? 0;
            var definitions = new int[entries];
            var repetitions = new int[entries];
            var values = ReadRaw(rowGroup, source.Field, entries, definitions, repetitions);
            // A row starts at repetition level 0; an element is present at the highest definition level, null below it.
            int present = definitions.Length == 0 ? 0 : definitions.Max();
            var result = new float[(long)rows * source.Size];
            long next = 0;
            int row = -1, inRow = 0;
            for (long i = 0; i < entries; i++)
            {
                if (repetitions[i] == 0)
                {
                    if (row >= 0)
                        RequireLength(source, row, inRow);
                    row++;
                    inRow = 0;
                }
                if (definitions[i] != present)
                    throw Null(source, row); // a null element, or an empty or null list
                if (inRow < source.Size && row < rows)
                    result[(long)row * source.Size + inRow] = values[next];
                next++;
                inRow++;
            }
            if (row >= 0)
                RequireLength(source, row, inRow);
            if (row + 1 != rows)
                throw new CliException($"The data file '{view.path}' is damaged: row group {group + 1} has {rows} rows but its column '{source.Name}' holds {row + 1}.",
                    "Write the file again.");
            return result;
        }

        private void RequireLength(Source source, int row, int length)
        {
            if (length != source.Size)
                throw new CliException(
                    $"The data file '{view.path}', row {FileRow(row)}, column '{source.Name}': the vector has {length} values; " +
                    $"the column's other rows have {source.Size}.",
                    "Every row of a vector column must hold the same number of values; an empty or null list counts as one missing value.");
        }

        private static float[] ReadRaw(Parquet.ParquetRowGroupReader rowGroup, DataField field, long entries, int[] definitions, int[] repetitions)
        {
            if (field.ClrType == typeof(double))
            {
                var doubles = new double[entries];
                Run(() => rowGroup.ReadRawAsync<double>(field, doubles, definitions, repetitions));
                return doubles.Select(d => (float)d).ToArray();
            }
            var floats = new float[entries];
            Run(() => rowGroup.ReadRawAsync<float>(field, floats, definitions, repetitions));
            return floats;
        }

        /// <summary>The 1-based row of the file that row <paramref name="rowInGroup"/> of the current row group is, for errors.</summary>
        private long FileRow(long rowInGroup) => view.rowGroupRows.Take(group).Sum() + rowInGroup + 1;

        /// <summary>A null feature or label: refused with the file's row, as a missing CSV value is.</summary>
        private CliException Null(Source source, long rowInGroup) =>
            new($"The data file '{view.path}', row {FileRow(rowInGroup)}, column '{source.Name}': the value is null (missing).",
                "Every feature and label value must be a number; drop or fill the rows with missing values when writing the file.");

        private float[] ReadScalars(Parquet.ParquetRowGroupReader rowGroup, Source source, int rows) => source.Field.ClrType switch
        {
            var t when t == typeof(float) => Read<float>(rowGroup, source, rows, v => v),
            var t when t == typeof(double) => Read<double>(rowGroup, source, rows, v => (float)v),
            var t when t == typeof(int) => Read<int>(rowGroup, source, rows, v => v),
            var t when t == typeof(long) => Read<long>(rowGroup, source, rows, v => v),
            var t when t == typeof(short) => Read<short>(rowGroup, source, rows, v => v),
            var t when t == typeof(sbyte) => Read<sbyte>(rowGroup, source, rows, v => v),
            var t when t == typeof(byte) => Read<byte>(rowGroup, source, rows, v => v),
            var t when t == typeof(ushort) => Read<ushort>(rowGroup, source, rows, v => v),
            var t when t == typeof(uint) => Read<uint>(rowGroup, source, rows, v => v),
            var t when t == typeof(bool) => Read<bool>(rowGroup, source, rows, v => v ? 1f : 0f),
            var t => throw new NotSupportedException($"Parquet type {t} is not a number."),
        };

        private float[] Read<T>(Parquet.ParquetRowGroupReader rowGroup, Source source, int rows, Func<T, float> convert) where T : struct
        {
            var field = source.Field;
            var result = new float[rows];
            if (field.IsNullable)
            {
                var values = new T?[rows];
                Run(() => rowGroup.ReadAsync<T>(field, values.AsMemory(), null));
                for (int i = 0; i < rows; i++)
                    result[i] = values[i] is { } v ? convert(v) : throw Null(source, i);
            }
            else
            {
                var values = new T[rows];
                Run(() => rowGroup.ReadAsync<T>(field, values.AsMemory(), null));
                for (int i = 0; i < rows; i++)
                    result[i] = convert(values[i]);
            }
            return result;
        }

        protected override void Dispose(bool disposing)
        {
            if (disposing)
                Run(() => reader.DisposeAsync());
            base.Dispose(disposing);
        }
    }
}
