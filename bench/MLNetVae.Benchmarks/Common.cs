using System.Diagnostics;
using System.Globalization;
using System.Reflection;
using System.Runtime.InteropServices;
using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;
using Microsoft.ML;
using Microsoft.ML.Data;

namespace MLNetVae.Benchmarks;

/// <summary>Median, minimum and maximum of a set of repetitions (the harness never reports a lone mean).</summary>
internal sealed record Spread(double Median, double Min, double Max, int Count)
{
    public static Spread Of(IEnumerable<double> values)
    {
        var sorted = values.OrderBy(v => v).ToArray();
        if (sorted.Length == 0)
            return new Spread(double.NaN, double.NaN, double.NaN, 0);
        int m = sorted.Length / 2;
        double median = sorted.Length % 2 == 1 ? sorted[m] : (sorted[m - 1] + sorted[m]) / 2;
        return new Spread(median, sorted[0], sorted[^1], sorted.Length);
    }

    /// <summary>Percentile by linear interpolation between closest ranks (p in [0, 100]).</summary>
    public static double Percentile(double[] sorted, double p)
    {
        if (sorted.Length == 0)
            return double.NaN;
        double rank = p / 100 * (sorted.Length - 1);
        int lo = (int)Math.Floor(rank), hi = (int)Math.Ceiling(rank);
        return sorted[lo] + (sorted[hi] - sorted[lo]) * (rank - lo);
    }

    public string Format(string format = "N0") =>
        string.Create(CultureInfo.InvariantCulture, $"{Median.ToString(format, CultureInfo.InvariantCulture)} [{Min.ToString(format, CultureInfo.InvariantCulture)} – {Max.ToString(format, CultureInfo.InvariantCulture)}]");

    public JsonObject ToJson() => new() { ["median"] = Median, ["min"] = Min, ["max"] = Max, ["n"] = Count };
}

/// <summary>Process memory from /proc/self/status (Linux): current resident set and its high-water mark.</summary>
internal static class ProcStatus
{
    public static (double RssMiB, double HwmMiB) Read()
    {
        double rss = double.NaN, hwm = double.NaN;
        if (!File.Exists("/proc/self/status"))
            return (rss, hwm);
        foreach (var line in File.ReadLines("/proc/self/status"))
        {
            if (line.StartsWith("VmRSS:", StringComparison.Ordinal))
                rss = KiB(line) / 1024.0;
            else if (line.StartsWith("VmHWM:", StringComparison.Ordinal))
                hwm = KiB(line) / 1024.0;
        }
        return (rss, hwm);
    }

    /// <summary>
    /// Resets VmHWM to the current VmRSS (Linux 4.0+: "5" to /proc/self/clear_refs), so a later VmHWM is the peak of
    /// what ran in between, not of the whole process. False where the kernel does not allow it.
    /// </summary>
    public static bool ResetPeak()
    {
        try
        {
            File.WriteAllText("/proc/self/clear_refs", "5");
            return true;
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            return false;
        }
    }

    private static double KiB(string line) =>
        double.Parse(line.Split(':', 2)[1].Trim().Split(' ')[0], CultureInfo.InvariantCulture);

    /// <summary>The 1-minute load average: how busy the (shared) machine was around a measurement.</summary>
    public static double LoadAverage()
    {
        try
        {
            return double.Parse(File.ReadAllText("/proc/loadavg").Split(' ')[0], CultureInfo.InvariantCulture);
        }
        catch (IOException)
        {
            return double.NaN;
        }
    }
}

/// <summary>
/// glibc's own account of native heap memory (mallinfo2, glibc 2.33+), to tell a leak (bytes in use grow) from
/// fragmentation (free bytes held by the allocator grow). Null where it is not available (not glibc, too old).
/// </summary>
internal static class NativeHeap
{
    [StructLayout(LayoutKind.Sequential)]
    private struct MallInfo2
    {
        public nuint Arena, OrdBlks, SmBlks, HBlks, HBlkHd, UsmBlks, FsmBlks, UordBlks, FordBlks, KeepCost;
    }

    [DllImport("libc", EntryPoint = "mallinfo2")]
    private static extern MallInfo2 mallinfo2();

    /// <summary>Bytes in use (heap + mmapped chunks) and free bytes the allocator keeps, in MiB.</summary>
    public static (double InUseMiB, double FreeHeldMiB)? Read()
    {
        try
        {
            var info = mallinfo2();
            return ((info.UordBlks + info.HBlkHd) / (1024.0 * 1024), info.FordBlks / (1024.0 * 1024));
        }
        catch (Exception e) when (e is DllNotFoundException or EntryPointNotFoundException)
        {
            return null;
        }
    }
}

/// <summary>Seeded N(0, 1) data (Box–Muller on System.Random), row-major float32.</summary>
internal static class SyntheticData
{
    public static float[] Normal(int rows, int columns, int seed)
    {
        var values = new float[(long)rows * columns];
        var random = new Random(seed);
        for (long i = 0; i < values.Length; i += 2)
        {
            double u1 = 1.0 - random.NextDouble(), u2 = random.NextDouble();
            double r = Math.Sqrt(-2.0 * Math.Log(u1));
            var (sin, cos) = Math.SinCos(2.0 * Math.PI * u2);
            values[i] = (float)(r * cos);
            if (i + 1 < values.Length)
                values[i + 1] = (float)(r * sin);
        }
        return values;
    }
}

/// <summary>
/// A minimal in-memory IDataView over one row-major float array with one vector column, so that the upstream
/// source costs next to nothing (one 3 KB copy per row) and the benchmarks measure the VAE, not the loader.
/// </summary>
/// <remarks>
/// <see cref="Repeating"/> streams more rows than the array holds (row i is array row i mod pool rows), so the
/// scaling benchmarks can feed a million rows while the source itself holds a constant few MiB: what grows is
/// then the consumer's memory, not the source's.
/// </remarks>
internal sealed class DenseDataView : IDataView
{
    private readonly float[] values;
    private readonly int rows;
    private readonly int width;
    private readonly int poolRows;

    public DenseDataView(float[] values, int rows, int width, string columnName = "Features")
        : this(values, rows, width, columnName, repeat: false)
    {
    }

    /// <summary>A view of <paramref name="rows"/> rows cycling through the rows of <paramref name="pool"/>.</summary>
    public static DenseDataView Repeating(float[] pool, int rows, int width) => new(pool, rows, width, "Features", repeat: true);

    private DenseDataView(float[] values, int rows, int width, string columnName, bool repeat)
    {
        if (!repeat && (long)rows * width > values.Length)
            throw new ArgumentException("rows x width exceeds the array.");
        if (values.Length < width)
            throw new ArgumentException("The array holds no whole row.");
        this.values = values;
        this.rows = rows;
        this.width = width;
        poolRows = values.Length / width;
        var builder = new DataViewSchema.Builder();
        builder.AddColumn(columnName, new VectorDataViewType(NumberDataViewType.Single, width));
        Schema = builder.ToSchema();
    }

    public bool CanShuffle => false;
    public DataViewSchema Schema { get; }
    public long? GetRowCount() => rows;

    public DataViewRowCursor GetRowCursor(IEnumerable<DataViewSchema.Column> columnsNeeded, Random? rand = null) =>
        new Cursor(this, columnsNeeded.Any(c => c.Index == 0));

    public DataViewRowCursor[] GetRowCursorSet(IEnumerable<DataViewSchema.Column> columnsNeeded, int n, Random? rand = null) =>
        new[] { GetRowCursor(columnsNeeded, rand) };

    private sealed class Cursor : DataViewRowCursor
    {
        private readonly DenseDataView view;
        private readonly bool active;
        private long position = -1;

        public Cursor(DenseDataView view, bool active)
        {
            this.view = view;
            this.active = active;
        }

        public override DataViewSchema Schema => view.Schema;
        public override long Position => position;
        public override long Batch => 0;
        public override bool IsColumnActive(DataViewSchema.Column column) => active && column.Index == 0;

        public override ValueGetter<DataViewRowId> GetIdGetter() => (ref DataViewRowId id) => id = new DataViewRowId((ulong)position, 0);

        public override ValueGetter<TValue> GetGetter<TValue>(DataViewSchema.Column column)
        {
            if (!IsColumnActive(column))
                throw new InvalidOperationException($"Column {column.Name} is not active.");
            int width = view.width, poolRows = view.poolRows;
            float[] values = view.values;
            ValueGetter<VBuffer<float>> getter = (ref VBuffer<float> value) =>
            {
                var editor = VBufferEditor.Create(ref value, width);
                values.AsSpan((int)(position % poolRows) * width, width).CopyTo(editor.Values);
                value = editor.Commit();
            };
            return getter as ValueGetter<TValue> ?? throw new InvalidOperationException($"Column {column.Name} is VBuffer<float>.");
        }

        public override bool MoveNext()
        {
            if (position + 1 >= view.rows)
            {
                position = view.rows;
                return false;
            }
            position++;
            return true;
        }
    }
}

/// <summary>Where things are: the repository root (found from the working directory or the binary) and the results folder.</summary>
internal static class RepoPaths
{
    public static string Root { get; } = Find();

    public static string DefaultResultsFile => Path.Combine(Root, "bench", "results", "results.jsonl");

    private static string Find()
    {
        foreach (var start in new[] { Directory.GetCurrentDirectory(), AppContext.BaseDirectory })
        {
            for (var dir = new DirectoryInfo(start); dir is not null; dir = dir.Parent)
                if (File.Exists(Path.Combine(dir.FullName, "MLNetVae.sln")))
                    return dir.FullName;
        }
        return Directory.GetCurrentDirectory();
    }
}

/// <summary>Machine and software facts recorded with every result.</summary>
internal static class MachineInfo
{
    public static JsonObject Describe()
    {
        var metadata = typeof(MachineInfo).Assembly.GetCustomAttributes<AssemblyMetadataAttribute>()
            .ToDictionary(a => a.Key, a => a.Value);
        var versions = new JsonObject
        {
            [".NET"] = RuntimeInformation.FrameworkDescription,
            ["Microsoft.ML"] = Informational(typeof(MLContext).Assembly),
            ["TorchSharp"] = Informational(typeof(TorchSharp.torch).Assembly),
            ["Microsoft.ML.OnnxRuntime (managed)"] = Informational(typeof(Microsoft.ML.OnnxRuntime.InferenceSession).Assembly),
            ["MLNetVae"] = Informational(typeof(VaeEstimator).Assembly),
        };
        foreach (var (key, value) in metadata)
            versions[key] = value;
        return new JsonObject
        {
            ["cpu"] = CpuModel(),
            ["logical_cpus"] = Environment.ProcessorCount,
            ["os"] = RuntimeInformation.OSDescription,
            ["memory_gib"] = Math.Round(GC.GetGCMemoryInfo().TotalAvailableMemoryBytes / (1024.0 * 1024 * 1024), 1),
            ["versions"] = versions,
            ["OMP_WAIT_POLICY"] = Environment.GetEnvironmentVariable("OMP_WAIT_POLICY") ?? "(unset)",
        };
    }

    private static string Informational(Assembly assembly)
    {
        var v = assembly.GetCustomAttribute<AssemblyInformationalVersionAttribute>()?.InformationalVersion
            ?? assembly.GetName().Version?.ToString() ?? "?";
        int plus = v.IndexOf('+');
        return plus > 0 ? v[..plus] : v;
    }

    public static string CpuModel()
    {
        try
        {
            var line = File.ReadLines("/proc/cpuinfo").FirstOrDefault(l => l.StartsWith("model name", StringComparison.Ordinal));
            return line?.Split(':', 2)[1].Trim() ?? "?";
        }
        catch (IOException)
        {
            return "?";
        }
    }
}

/// <summary>Appends one JSON object per command to a JSON Lines file.</summary>
internal static class ResultsFile
{
    public static JsonObject NewRecord(string kind, int? round) => new()
    {
        ["kind"] = kind,
        ["round"] = round,
        ["started_utc"] = DateTime.UtcNow.ToString("o", CultureInfo.InvariantCulture),
        ["machine"] = MachineInfo.Describe(),
    };

    public static void Append(string path, JsonObject record)
    {
        record["finished_utc"] = DateTime.UtcNow.ToString("o", CultureInfo.InvariantCulture);
        Directory.CreateDirectory(Path.GetDirectoryName(Path.GetFullPath(path))!);
        File.AppendAllText(path, record.ToJsonString(new JsonSerializerOptions { WriteIndented = false }) + "\n");
        Console.WriteLine($"(appended to {path})");
    }

    public static JsonArray Array(IEnumerable<double> values) => new(values.Select(v => (JsonNode?)JsonValue.Create(v)).ToArray());
}

/// <summary>A plain fixed-width text table that can also render itself as Markdown.</summary>
internal sealed class Table
{
    private readonly string[] header;
    private readonly List<string[]> rows = new();

    public Table(params string[] header) => this.header = header;

    public void Add(params object?[] cells) =>
        rows.Add(cells.Select(c => c switch
        {
            null => "",
            double d => d.ToString("N0", CultureInfo.InvariantCulture),
            IFormattable f => f.ToString(null, CultureInfo.InvariantCulture),
            _ => c.ToString() ?? "",
        }).ToArray());

    public override string ToString()
    {
        var widths = header.Select((h, i) => Math.Max(h.Length, rows.Select(r => i < r.Length ? r[i].Length : 0).DefaultIfEmpty(0).Max())).ToArray();
        var sb = new StringBuilder();
        void Line(string[] cells) =>
            sb.AppendLine(string.Join("  ", cells.Select((c, i) => i == 0 ? c.PadRight(widths[i]) : c.PadLeft(widths[i]))).TrimEnd());
        Line(header);
        sb.AppendLine(new string('-', widths.Sum() + 2 * (widths.Length - 1)));
        foreach (var row in rows)
            Line(row);
        return sb.ToString();
    }

    public string ToMarkdown()
    {
        var sb = new StringBuilder();
        sb.AppendLine("| " + string.Join(" | ", header) + " |");
        sb.AppendLine("|" + string.Join("|", header.Select((_, i) => i == 0 ? " --- " : " ---: ")) + "|");
        foreach (var row in rows)
            sb.AppendLine("| " + string.Join(" | ", row) + " |");
        return sb.ToString();
    }
}

internal static class Timing
{
    public static double Seconds(long startTimestamp) => Stopwatch.GetElapsedTime(startTimestamp).TotalSeconds;

    /// <summary>
    /// Runs every variant once per repetition, in order, each after <see cref="Settle"/>, and returns each variant's
    /// rows/s per repetition (keyed like the variants). A variant returns a checksum of what it read; NaN fails the run.
    /// <paramref name="beforeRepetition"/> runs before each repetition (e.g. to sample the load average).
    /// </summary>
    public static Dictionary<string, List<double>> Interleave(IReadOnlyList<(string Key, int Rows, Func<double> Run)> variants, int reps,
        Action? beforeRepetition = null)
    {
        var rates = variants.ToDictionary(v => v.Key, _ => new List<double>());
        for (int rep = 1; rep <= reps; rep++)
        {
            beforeRepetition?.Invoke();
            var line = new List<string>();
            foreach (var (key, rows, run) in variants)
            {
                Settle();
                long start = Stopwatch.GetTimestamp();
                double checksum = run();
                double seconds = Seconds(start);
                if (double.IsNaN(checksum))
                    throw new InvalidOperationException($"{key}: NaN checksum");
                rates[key].Add(rows / seconds);
                line.Add(string.Create(CultureInfo.InvariantCulture, $"{key} {rows / seconds:N0}"));
            }
            Console.WriteLine($"  rep {rep}: " + string.Join(", ", line) + " rows/s");
        }
        return rates;
    }

    /// <summary>A full, compacting collection, so garbage from one measurement is not collected during the next.</summary>
    public static void Settle()
    {
        GC.Collect(GC.MaxGeneration, GCCollectionMode.Forced, blocking: true, compacting: true);
        GC.WaitForPendingFinalizers();
        GC.Collect();
    }
}
