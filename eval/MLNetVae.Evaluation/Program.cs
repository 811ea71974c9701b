using System.Diagnostics;
using System.Globalization;
using System.Reflection;
using System.Text;
using Microsoft.ML;
using Microsoft.ML.Data;

namespace MLNetVae.Evaluation;

/// <summary>
/// Anomaly-detection evaluation of the VAE detector's DEFAULT options against ML.NET's RandomizedPca, with one fixed
/// protocol (printed with the results; see <see cref="Protocol"/>). Usage:
/// <code>
/// dotnet run -c Release --project eval/MLNetVae.Evaluation -- [--seeds 5] [--sets cardio,wine] [--max-train-rows 10000]
///     [--data ../shared/data] [--markdown docs/evaluation-table.md] [--option Beta=1 --option ScoreKind=NegativeElbo]
///     [--featurization]
/// </code>
/// <c>--option Name=Value</c> overrides a <see cref="VaeAnomalyOptions"/> property (to try other defaults);
/// <c>--featurization</c> runs the Mu-vs-PCA classifier comparison instead (<see cref="Featurization"/>).
/// </summary>
public static class Program
{
    public static int Main(string[] args)
    {
        CultureInfo.DefaultThreadCurrentCulture = CultureInfo.InvariantCulture;
        CultureInfo.CurrentCulture = CultureInfo.InvariantCulture;
        Arguments a;
        try
        {
            a = Arguments.Parse(args);
        }
        catch (ArgumentException e)
        {
            Console.Error.WriteLine(e.Message);
            Console.Error.WriteLine("usage: [--seeds N] [--sets a,b] [--max-train-rows N] [--data DIR] [--markdown FILE] [--option Name=Value]... [--featurization] [--precision]");
            return 2;
        }

        if (a.Featurization)
            return Featurization.Run(a);

        var sets = DataSet.Discover(a.DataDirectory)
            .Where(s => a.Sets.Count == 0 || a.Sets.Any(f => s.Name.Contains(f, StringComparison.OrdinalIgnoreCase)))
            .ToList();
        if (sets.Count == 0)
        {
            Console.Error.WriteLine($"No data sets found under {a.DataDirectory} (matching {string.Join(",", a.Sets)}).");
            return 1;
        }

        var protocol = new Protocol(a.Seeds, a.MaxTrainRows, a.Options) { Knobs = a };
        Console.WriteLine(protocol.Describe());
        Console.WriteLine();
        var clock = Stopwatch.StartNew();
        var results = new List<SetResult>();
        foreach (var set in sets)
        {
            var result = protocol.Run(set);
            results.Add(result);
            Console.Error.WriteLine($"  {result.Name}: VAE {result.Vae.Format()} PCA {result.Pca.Format()} residual {result.PcaResidual.Format()} " +
                                    $"({result.Seconds:F0} s; latent {result.LatentDim}, active {result.ActiveLatent:F1}, epochs {result.EpochsRun:F0}/{result.Epochs})");
        }

        // The anchors: IsolationForest (scikit-learn, which ML.NET lacks) on exactly the splits the VAE saw.
        var anchors = Anchors.Run(protocol.Splits, sets);
        if (anchors.Scores is { } forest)
            results = results.Select(r => r with { IForest = forest.TryGetValue(r.Name, out var stat) ? stat : null }).ToList();
        else
            Console.Error.WriteLine($"  IsolationForest anchors skipped: {anchors.Skipped}");

        string table = Report.Table(results);
        string summary = Report.Summary(results, clock.Elapsed) +
                         (protocol.Retries > 0 ? $" {protocol.Retries} fit(s) retried after a TorchSharp native error." : "");
        if (a.ComparePrecision)
        {
            table += Environment.NewLine + "Int8 against float32 scoring of the same models (`--precision`):" + Environment.NewLine + Environment.NewLine +
                     PrecisionComparison.Table(results);
            summary += " " + PrecisionComparison.Summary(results);
        }
        Console.WriteLine(table);
        Console.WriteLine(summary);
        if (a.Markdown is { } path)
        {
            File.WriteAllText(path, Report.Markdown(protocol, results, summary, args, table));
            Console.WriteLine($"Wrote {path}");
        }
        return 0;
    }
}

/// <summary>Command-line arguments.</summary>
public sealed class Arguments
{
    public int Seeds { get; private set; } = 5;
    public List<string> Sets { get; } = new();
    public int MaxTrainRows { get; private set; } = 10_000;
    public string DataDirectory { get; private set; } = DefaultDataDirectory();
    public string? Markdown { get; private set; }
    public Dictionary<string, string> Options { get; } = new(StringComparer.Ordinal);
    public bool Featurization { get; private set; }

    /// <summary>Also score every trained detector in int8 and compare (<see cref="PrecisionComparison"/>).</summary>
    public bool ComparePrecision { get; private set; }

    /// <summary>Experiment knobs (not defaults): latent = clamp(ceil(d / LatentDivisor), 2, 256); hidden = clamp(HiddenMultiplier·d, 32, 512); epochs for about TargetSteps optimizer steps.</summary>
    public double? LatentDivisor { get; private set; }
    public double? HiddenMultiplier { get; private set; }
    public int? TargetSteps { get; private set; }

    /// <summary>Experiment knob: hidden ≤ this many times the training rows (then latent ≤ hidden / 2), for sets with few rows per feature.</summary>
    public double? HiddenPerRow { get; private set; }

    public static Arguments Parse(string[] args)
    {
        var result = new Arguments();
        for (int i = 0; i < args.Length; i++)
        {
            string Next() => i + 1 < args.Length ? args[++i] : throw new ArgumentException($"{args[i]} needs a value.");
            switch (args[i])
            {
                case "--seeds": result.Seeds = int.Parse(Next(), CultureInfo.InvariantCulture); break;
                case "--sets": result.Sets.AddRange(Next().Split(',', StringSplitOptions.RemoveEmptyEntries)); break;
                case "--max-train-rows": result.MaxTrainRows = int.Parse(Next(), CultureInfo.InvariantCulture); break;
                case "--data": result.DataDirectory = Next(); break;
                case "--markdown": result.Markdown = Next(); break;
                case "--featurization": result.Featurization = true; break;
                case "--precision": result.ComparePrecision = true; break;
                case "--latent-divisor": result.LatentDivisor = double.Parse(Next(), CultureInfo.InvariantCulture); break;
                case "--hidden-multiplier": result.HiddenMultiplier = double.Parse(Next(), CultureInfo.InvariantCulture); break;
                case "--target-steps": result.TargetSteps = int.Parse(Next(), CultureInfo.InvariantCulture); break;
                case "--hidden-per-row": result.HiddenPerRow = double.Parse(Next(), CultureInfo.InvariantCulture); break;
                case "--option":
                    var pair = Next().Split('=', 2);
                    if (pair.Length != 2)
                        throw new ArgumentException($"--option needs Name=Value, got '{args[i]}'.");
                    result.Options[pair[0]] = pair[1];
                    break;
                default: throw new ArgumentException($"Unknown argument '{args[i]}'.");
            }
        }
        if (result.Seeds < 1)
            throw new ArgumentException("--seeds must be at least 1.");
        return result;
    }

    private static string DefaultDataDirectory() => Path.GetFullPath(Path.Combine(RepoRoot(), "..", "shared", "data"));

    /// <summary>The repository folder (the one with MLNetVae.sln above the build output), or the current folder.</summary>
    internal static string RepoRoot()
    {
        var directory = new DirectoryInfo(AppContext.BaseDirectory);
        while (directory is not null && !File.Exists(Path.Combine(directory.FullName, "MLNetVae.sln")))
            directory = directory.Parent;
        return directory?.FullName ?? Directory.GetCurrentDirectory();
    }
}

/// <summary>One CSV: Label (1 = anomaly) first, then the features.</summary>
public sealed class DataSet
{
    private DataSet(string name, string path, float[][] features, bool[] anomaly)
    {
        Name = name;
        Path = path;
        Features = features;
        Anomaly = anomaly;
    }

    public string Name { get; }
    public string Path { get; }
    public float[][] Features { get; }
    public bool[] Anomaly { get; }
    public int Rows => Features.Length;
    public int Dimensions => Features[0].Length;
    public int Anomalies => Anomaly.Count(a => a);

    /// <summary>The ODDS sets, then the embedding sets, in name order.</summary>
    public static IEnumerable<DataSet> Discover(string dataDirectory)
    {
        foreach (var folder in new[] { "odds", "embeddings" })
        {
            var path = System.IO.Path.Combine(dataDirectory, folder);
            if (!Directory.Exists(path))
                continue;
            foreach (var csv in Directory.EnumerateFiles(path, "*.csv").Order(StringComparer.Ordinal))
                yield return Load(csv, $"{folder}/{System.IO.Path.GetFileNameWithoutExtension(csv)}");
        }
    }

    public static DataSet Load(string csv, string name)
    {
        var features = new List<float[]>();
        var anomaly = new List<bool>();
        foreach (var line in File.ReadLines(csv).Skip(1))
        {
            if (line.Length == 0)
                continue;
            var parts = line.Split(',');
            anomaly.Add(float.Parse(parts[0], CultureInfo.InvariantCulture) > 0);
            var row = new float[parts.Length - 1];
            for (int j = 1; j < parts.Length; j++)
                row[j - 1] = float.Parse(parts[j], CultureInfo.InvariantCulture);
            features.Add(row);
        }
        return new DataSet(name, System.IO.Path.GetFullPath(csv), features.ToArray(), anomaly.ToArray());
    }
}

/// <summary>Mean and sample standard deviation of a list of values.</summary>
public readonly record struct Stat(double Mean, double Sd, int Count)
{
    public static Stat Of(IReadOnlyList<double> values)
    {
        double mean = values.Average();
        double sd = values.Count > 1 ? Math.Sqrt(values.Sum(v => (v - mean) * (v - mean)) / (values.Count - 1)) : 0;
        return new Stat(mean, sd, values.Count);
    }

    public string Format() => $"{Mean:F3}±{Sd:F3}";
}

public sealed record SetResult(string Name, int Rows, int Dimensions, int Anomalies, int TrainRows, Stat Vae, Stat Pca, Stat PcaResidual,
    int LatentDim, int HiddenDim, int Epochs, double EpochsRun, double ActiveLatent, int PcaRank, double Seconds, double VaeSeconds)
{
    /// <summary>IsolationForest's ROC-AUC on the same splits (null when scikit-learn was not available).</summary>
    public Stat? IForest { get; init; }

    /// <summary>Int8 against float32 per split, with <c>--precision</c> (null without).</summary>
    public IReadOnlyList<PrecisionComparison.Split>? Precision { get; init; }
}

/// <summary>One split the VAE was evaluated on: the rows (indices into the data set's CSV) it trained and was tested on.</summary>
public sealed record SplitRows(string Set, int Seed, int[] Train, int[] Test, int PcaRank);

/// <summary>
/// The fixed protocol. Per data set and seed s = 0..k−1: a stratified random 60/40 split (anomalies and normal rows
/// split separately with <c>Random(s)</c>); the training split subsampled to at most <c>maxTrainRows</c> rows (random,
/// same seed) for the largest sets; both splits standardized with the training split's mean and population standard
/// deviation (1 where it is 0); the VAE detector with default options (seed s) and RandomizedPca
/// (rank = <see cref="VaeAnomalyOptions.Defaults.LatentDimFor(int)"/>(d), capped below d and the training rows; zero mean;
/// seed s) trained on the training split INCLUDING its anomalies (labels unused); both score the test split;
/// ROC-AUC from <c>mlContext.AnomalyDetection.Evaluate</c>.
/// </summary>
public sealed class Protocol
{
    public const double TrainFraction = 0.6;

    public Protocol(int seeds, int maxTrainRows, IReadOnlyDictionary<string, string> overrides)
    {
        Seeds = seeds;
        MaxTrainRows = maxTrainRows;
        Overrides = overrides;
    }

    public int Seeds { get; }
    public int MaxTrainRows { get; }
    public IReadOnlyDictionary<string, string> Overrides { get; }
    public Arguments? Knobs { get; init; }
    private int retries;

    /// <summary>Every split run so far, for the anchors (<see cref="Anchors"/>) to score the same rows.</summary>
    public List<SplitRows> Splits { get; } = new();

    public string Describe()
    {
        var d = new VaeAnomalyOptions();
        var sb = new StringBuilder();
        sb.AppendLine($"Protocol: seeds 0..{Seeds - 1}; per seed a stratified random {TrainFraction:P0}/{1 - TrainFraction:P0} split; " +
                      $"training split capped at {MaxTrainRows:N0} rows (random subsample) for the largest sets; " +
                      "standardized with the training split's mean/std; trained on the training split including its anomalies " +
                      "(unsupervised, labels unused); ROC-AUC on the test split (mlContext.AnomalyDetection.Evaluate).");
        sb.AppendLine($"VAE: VaeAnomalyOptions defaults (hidden = clamp(2d, 32, 512) and <= max(32, {VaeAnomalyOptions.Defaults.HiddenUnitsPerTrainingRow} x training rows), " +
                      $"latent = clamp(ceil(d/3), 2, 256) and <= hidden/2, trimmed loss {d.TrimmedLossFraction} of each batch, " +
                      $"epochs = clamp(ceil({VaeAnomalyOptions.Defaults.TargetOptimizerSteps} / steps per epoch), {VaeAnomalyOptions.Defaults.MinimumEpochs}, {VaeAnomalyOptions.Defaults.MaximumEpochs}), " +
                      $"batch {d.BatchSize}, beta {d.Beta}, lr {d.LearningRate}, validation {d.ValidationFraction}, patience {d.EarlyStoppingPatience}, " +
                      $"KL warm-up {d.KlWarmupEpochs}, score {d.ScoreKind}), Seed = s, NumberOfThreads = 1" +
                      (Overrides.Count > 0 ? $"; OVERRIDES: {string.Join(", ", Overrides.Select(o => $"{o.Key}={o.Value}"))}" : "") +
                      (Knobs is { LatentDivisor: { } ld } ? $"; KNOB latent = d/{ld}" : "") +
                      (Knobs is { HiddenMultiplier: { } hm } ? $"; KNOB hidden = {hm}d" : "") +
                      (Knobs is { TargetSteps: { } ts } ? $"; KNOB target steps {ts}" : "") +
                      (Knobs is { HiddenPerRow: { } hr } ? $"; KNOB hidden <= {hr} x training rows, latent <= hidden/2" : "") + ".");
        sb.Append("PCA: mlContext.AnomalyDetection.Trainers.RandomizedPca(rank = min(latent rule, d - 1, training rows / 2: near the row count ML.NET's score is NaN), oversampling 20, ensureZeroMean, seed s), " +
                  "scored two ways: ML.NET's own score (the RELATIVE residual sqrt(residual / |x - mean|^2)) and the absolute residual " +
                  "|x - mean|^2 - |projection|^2 from the same model's eigenvectors. 'winner' compares the VAE with the better of the two.");
        return sb.ToString();
    }

    public SetResult Run(DataSet set)
    {
        var vaeAuc = new List<double>();
        var pcaAuc = new List<double>();
        var residualAuc = new List<double>();
        var active = new List<double>();
        var epochsRun = new List<double>();
        var precision = new List<PrecisionComparison.Split>();
        int trainRows = 0, latent = 0, hidden = 0, epochs = 0, rank = 0;
        var clock = Stopwatch.StartNew();
        double vaeSeconds = 0;
        for (int seed = 0; seed < Seeds; seed++)
        {
            var (trainIndices, testIndices) = SplitIndices(set, seed);
            var (train, test) = (Rows.Take(set, trainIndices), Rows.Take(set, testIndices));
            Standardize(train.Features, test.Features);
            trainRows = train.Features.Length;
            var ml = new MLContext(seed: seed);
            var trainView = Rows.ToDataView(ml, train.Features, train.Anomaly);
            var testView = Rows.ToDataView(ml, test.Features, test.Anomaly);

            // One TorchSharp thread: on a shared 2-core machine, two threads ran up to 30x slower whenever another
            // process held a core (threads wait for each other at every operation); alone, two were at most 1.3x faster.
            var options = ApplyOverrides(new VaeAnomalyOptions { Seed = seed, NumberOfThreads = 1 });
            if (Knobs?.LatentDivisor is { } divisor)
                options.LatentDim = Math.Clamp((int)Math.Ceiling(set.Dimensions / divisor), 2, 256);
            if (Knobs?.HiddenMultiplier is { } multiplier)
                options.HiddenDim = Math.Clamp((int)Math.Round(set.Dimensions * multiplier), 32, 512);
            if (Knobs?.HiddenPerRow is { } perRow)
            {
                int h = Math.Clamp(Math.Min(VaeAnomalyOptions.Defaults.HiddenDimFor(set.Dimensions), (int)Math.Ceiling(perRow * trainRows)), 32, 512);
                options.HiddenDim = h;
                options.LatentDim = Math.Max(2, Math.Min(VaeAnomalyOptions.Defaults.LatentDimFor(set.Dimensions), h / 2));
            }
            if (Knobs?.TargetSteps is { } steps)
            {
                int stepsPerEpoch = Math.Max(1, (int)Math.Ceiling(trainRows * (1 - options.ValidationFraction) / options.BatchSize));
                options.Epochs = Math.Clamp((steps + stepsPerEpoch - 1) / stepsPerEpoch, VaeAnomalyOptions.Defaults.MinimumEpochs, VaeAnomalyOptions.Defaults.MaximumEpochs);
            }
            var vaeClock = Stopwatch.StartNew();
            using var detector = FitWithRetry(ml, options, trainView, set.Name, seed);
            vaeAuc.Add(ml.AnomalyDetection.Evaluate(detector.Transform(testView)).AreaUnderRocCurve);
            vaeSeconds += vaeClock.Elapsed.TotalSeconds;
            if (Knobs?.ComparePrecision == true)
                precision.Add(PrecisionComparison.Measure(ml, detector, testView, test.Anomaly));
            var report = detector.Vae.TrainingReport!;
            if (Environment.GetEnvironmentVariable("MLNETVAE_EVAL_VERBOSE") == "1")
                Console.Error.WriteLine($"    seed {seed}: fit+score {vaeClock.Elapsed.TotalSeconds:F1} s, training {report.Epochs[^1].Elapsed.TotalSeconds:F1} s, " +
                                        $"{report.Epochs.Count} epochs, {report.Epochs.Average(e => e.SamplesPerSecond):F0} rows/s, best epoch {report.BestEpoch}, {report.StopReason}");
            active.Add(report.ActiveLatentDimensions);
            epochsRun.Add(report.Epochs.Count);
            latent = detector.Vae.LatentDim;
            hidden = detector.Vae.HiddenDim;
            epochs = detector.Options.Epochs!.Value;

            rank = Math.Max(1, Math.Min(VaeAnomalyOptions.Defaults.LatentDimFor(set.Dimensions), Math.Min(set.Dimensions - 1, trainRows / 2)));
            var pca = ml.AnomalyDetection.Trainers.RandomizedPca(featureColumnName: "Features", rank: rank, oversampling: 20, ensureZeroMean: true, seed: seed)
                .Fit(trainView);
            pcaAuc.Add(ml.AnomalyDetection.Evaluate(pca.Transform(testView)).AreaUnderRocCurve);
            var residuals = PcaResiduals(pca.Model, test.Features);
            residualAuc.Add(ml.AnomalyDetection.Evaluate(Rows.ScoredDataView(ml, residuals, test.Anomaly)).AreaUnderRocCurve);
            Splits.Add(new SplitRows(set.Name, seed, trainIndices, testIndices, rank));
        }
        return new SetResult(set.Name, set.Rows, set.Dimensions, set.Anomalies, trainRows, Stat.Of(vaeAuc), Stat.Of(pcaAuc), Stat.Of(residualAuc),
            latent, hidden, epochs, epochsRun.Average(), active.Average(), rank, clock.Elapsed.TotalSeconds, vaeSeconds)
        {
            Precision = Knobs?.ComparePrecision == true ? precision : null,
        };
    }

    /// <summary>
    /// The absolute PCA reconstruction error ‖x − m‖² − Σᵢ (vᵢ · (x − m))² of each row, from the eigenvectors and mean of
    /// the same RandomizedPca model. ML.NET's own PCA score is this divided by ‖x − m‖² (then square-rooted): a relative
    /// error, which ranks a row far out along a principal direction as normal.
    /// </summary>
    private static float[] PcaResiduals(Microsoft.ML.Trainers.PcaModelParameters model, float[][] rows)
    {
        VBuffer<float>[] vectors = Array.Empty<VBuffer<float>>();
        model.GetEigenVectors(ref vectors, out int rank);
        VBuffer<float> meanBuffer = default;
        model.GetMean(ref meanBuffer);
        var mean = meanBuffer.DenseValues().ToArray();
        var basis = vectors.Take(rank).Select(v => v.DenseValues().ToArray()).ToArray();
        return rows.Select(row =>
        {
            var centered = row.Select((v, j) => (double)v - (mean.Length > 0 ? mean[j] : 0)).ToArray();
            double total = centered.Sum(c => c * c);
            double projected = basis.Sum(v => { double dot = 0; for (int j = 0; j < v.Length; j++) dot += v[j] * centered[j]; return dot * dot; });
            return (float)Math.Max(0, total - projected);
        }).ToArray();
    }

    /// <summary>Retries / total fits so far: TorchSharp 0.107 can fail a native call at random (see docs/evaluation.md).</summary>
    public int Retries => retries;

    /// <summary>
    /// Fits the detector; retries once (same seed) when TorchSharp throws from native code. TorchSharp 0.107 creates
    /// a Scalar for every number in a tensor expression (also inside its Adam) and leaves it to the finalizer, which can
    /// free it while a native call still reads it; this surfaced once as "Expected false to be true ... toFloat".
    /// </summary>
    private VaeAnomalyTransformer FitWithRetry(MLContext ml, VaeAnomalyOptions options, IDataView train, string set, int seed)
    {
        try
        {
            return ml.AnomalyDetection.Trainers.VariationalAutoencoder(options).Fit(train);
        }
        catch (System.Runtime.InteropServices.ExternalException e)
        {
            retries++;
            Console.Error.WriteLine($"  {set} seed {seed}: TorchSharp native error, retrying once: {e.Message.Split('\n')[0]}");
            return ml.AnomalyDetection.Trainers.VariationalAutoencoder(options).Fit(train);
        }
    }

    private VaeAnomalyOptions ApplyOverrides(VaeAnomalyOptions options)
    {
        foreach (var (name, text) in Overrides)
        {
            var property = typeof(VaeAnomalyOptions).GetProperty(name, BindingFlags.Public | BindingFlags.Instance)
                ?? throw new ArgumentException($"VaeAnomalyOptions has no property '{name}'.");
            var type = Nullable.GetUnderlyingType(property.PropertyType) ?? property.PropertyType;
            object? value = text == "null" ? null
                : type.IsEnum ? Enum.Parse(type, text)
                : Convert.ChangeType(text, type, CultureInfo.InvariantCulture);
            property.SetValue(options, value);
        }
        return options;
    }

    private (int[] Train, int[] Test) SplitIndices(DataSet set, int seed)
    {
        var random = new Random(seed);
        var (train, test) = StratifiedSplit(set.Anomaly.Select(a => a ? 1 : 0).ToArray(), TrainFraction, random);
        var trainArray = train.ToArray();
        random.Shuffle(trainArray);
        if (trainArray.Length > MaxTrainRows)
            trainArray = trainArray[..MaxTrainRows];
        Array.Sort(trainArray);
        test.Sort();
        return (trainArray, test.ToArray());
    }

    /// <summary>
    /// Row indices split per class (classes in ascending order, each shuffled with <paramref name="random"/>): the first
    /// round(n · <paramref name="trainFraction"/>) of each class train, the rest test. The anomaly protocol and the
    /// featurization comparison both split this way.
    /// </summary>
    internal static (List<int> Train, List<int> Test) StratifiedSplit(int[] labels, double trainFraction, Random random)
    {
        var train = new List<int>();
        var test = new List<int>();
        foreach (int label in labels.Distinct().Order())
        {
            var indices = Enumerable.Range(0, labels.Length).Where(i => labels[i] == label).ToArray();
            random.Shuffle(indices);
            int take = (int)Math.Round(indices.Length * trainFraction);
            train.AddRange(indices[..take]);
            test.AddRange(indices[take..]);
        }
        return (train, test);
    }

    /// <summary>Standardizes both splits in place with the training split's mean and population standard deviation.</summary>
    internal static void Standardize(float[][] train, float[][] test)
    {
        int d = train[0].Length;
        for (int j = 0; j < d; j++)
        {
            double mean = train.Average(r => (double)r[j]);
            double sd = Math.Sqrt(train.Average(r => (r[j] - mean) * (r[j] - mean)));
            if (!(sd > 1e-12))
                sd = 1;
            foreach (var row in train.Concat(test))
                row[j] = (float)((row[j] - mean) / sd);
        }
    }
}

/// <summary>A copy of some rows of a data set, as arrays and as an IDataView.</summary>
public sealed class Rows
{
    public Rows(float[][] features, bool[] anomaly)
    {
        Features = features;
        Anomaly = anomaly;
    }

    public float[][] Features { get; }
    public bool[] Anomaly { get; }

    public static Rows Take(DataSet set, IReadOnlyList<int> indices) =>
        new(indices.Select(i => (float[])set.Features[i].Clone()).ToArray(), indices.Select(i => set.Anomaly[i]).ToArray());

    public sealed class Row
    {
        public float Label { get; set; }
        public float[] Features { get; set; } = Array.Empty<float>();
    }

    public sealed class ScoredRow
    {
        public float Label { get; set; }
        public float Score { get; set; }
        public bool PredictedLabel { get; set; }
    }

    /// <summary>Scores computed outside ML.NET, in the shape its anomaly evaluator reads (PredictedLabel is unused by AUC).</summary>
    public static IDataView ScoredDataView(MLContext ml, float[] scores, bool[] anomaly) =>
        ml.Data.LoadFromEnumerable(scores.Select((s, i) => new ScoredRow { Label = anomaly[i] ? 1 : 0, Score = s }).ToList());

    public static IDataView ToDataView(MLContext ml, float[][] features, bool[] anomaly)
    {
        var schema = SchemaDefinition.Create(typeof(Row));
        schema[nameof(Row.Features)].ColumnType = new VectorDataViewType(NumberDataViewType.Single, features[0].Length);
        var rows = features.Select((f, i) => new Row { Label = anomaly[i] ? 1 : 0, Features = f }).ToList();
        return ml.Data.Cache(ml.Data.LoadFromEnumerable(rows, schema));
    }
}

/// <summary>Tables for the console and docs/evaluation.md.</summary>
public static class Report
{
    /// <summary>A difference of mean AUC below this is called a tie.</summary>
    public const double Tie = 0.005;

    /// <summary>The better of the two PCA columns (ML.NET's relative score, the absolute residual).</summary>
    public static double BestPca(SetResult r) => Math.Max(r.Pca.Mean, r.PcaResidual.Mean);

    /// <summary>VAE against the better PCA column.</summary>
    public static string Winner(SetResult r) =>
        Math.Abs(r.Vae.Mean - BestPca(r)) < Tie ? "tie" : r.Vae.Mean > BestPca(r) ? "VAE" : "PCA";

    /// <summary>VAE against IsolationForest: "VAE", "IF", "tie", or "" without the anchor.</summary>
    public static string VersusForest(SetResult r) => r.IForest is not { } f ? ""
        : Math.Abs(r.Vae.Mean - f.Mean) < Tie ? "tie" : r.Vae.Mean > f.Mean ? "VAE" : "IF";

    public static string Table(IReadOnlyList<SetResult> results)
    {
        var sb = new StringBuilder();
        sb.AppendLine("| set | n | d | anomalies | train rows | VAE AUC | IsolationForest AUC | vs IF | PCA AUC (ML.NET score) | PCA AUC (residual) | vs PCA | VAE hidden/latent (active) | epochs run/max | PCA rank | VAE s/seed |");
        sb.AppendLine("| --- | ---: | ---: | ---: | ---: | --- | --- | --- | --- | --- | --- | --- | --- | ---: | ---: |");
        foreach (var r in results)
            sb.AppendLine($"| {r.Name} | {r.Rows} | {r.Dimensions} | {r.Anomalies} | {r.TrainRows} | {r.Vae.Format()} | {r.IForest?.Format() ?? "n/a"} | {VersusForest(r)} | " +
                          $"{r.Pca.Format()} | {r.PcaResidual.Format()} | {Winner(r)} | " +
                          $"{r.HiddenDim}/{r.LatentDim} ({r.ActiveLatent:F1}) | {r.EpochsRun:F0}/{r.Epochs} | {r.PcaRank} | {r.VaeSeconds / Math.Max(1, r.Vae.Count):F1} |");
        return sb.ToString();
    }

    public static string Summary(IReadOnlyList<SetResult> results, TimeSpan elapsed)
    {
        int vae = results.Count(r => Winner(r) == "VAE"), pca = results.Count(r => Winner(r) == "PCA"), tie = results.Count(r => Winner(r) == "tie");
        var worst = results.MinBy(r => r.Vae.Mean - BestPca(r))!;
        string forest = "";
        if (results.All(r => r.IForest is not null))
        {
            int w = results.Count(r => VersusForest(r) == "VAE"), l = results.Count(r => VersusForest(r) == "IF"), t = results.Count(r => VersusForest(r) == "tie");
            var far = results.Where(r => r.Vae.Mean < r.IForest!.Value.Mean - 0.05).Select(r => $"{r.Name} {r.Vae.Mean - r.IForest!.Value.Mean:+0.000;-0.000}").ToList();
            forest = $"Against IsolationForest (scikit-learn defaults, the same splits): VAE wins {w}, IF wins {l}, ties {t}; mean AUC VAE " +
                     $"{results.Average(r => r.Vae.Mean):F3}, IF {results.Average(r => r.IForest!.Value.Mean):F3}; more than 0.05 below IF: " +
                     $"{(far.Count == 0 ? "none" : string.Join(", ", far))}. ";
        }
        return forest + $"Against the better PCA column: VAE wins {vae}, PCA wins {pca}, ties {tie} (|difference| < {Tie}) of {results.Count} sets; " +
               $"mean AUC VAE {results.Average(r => r.Vae.Mean):F3}, PCA (ML.NET score) {results.Average(r => r.Pca.Mean):F3}, " +
               $"PCA (residual) {results.Average(r => r.PcaResidual.Mean):F3}; " +
               $"largest VAE deficit {worst.Vae.Mean - BestPca(worst):+0.000;-0.000} ({worst.Name}). Total {elapsed.TotalMinutes:F1} min.";
    }

    public static string Markdown(Protocol protocol, IReadOnlyList<SetResult> results, string summary, string[] args, string? table = null)
    {
        var sb = new StringBuilder();
        sb.AppendLine("<!-- Generated by eval/MLNetVae.Evaluation; do not edit by hand. -->");
        sb.AppendLine($"Command: `dotnet run -c Release --project eval/MLNetVae.Evaluation -- {string.Join(' ', args)}`");
        sb.AppendLine();
        sb.AppendLine($"Machine: {Machine()}");
        sb.AppendLine();
        sb.AppendLine(protocol.Describe().Replace("\n", "\n\n"));
        sb.AppendLine();
        sb.Append(table ?? Table(results));
        sb.AppendLine();
        sb.AppendLine(summary);
        return sb.ToString();
    }

    public static string Machine()
    {
        string cpu = "unknown CPU";
        try
        {
            cpu = File.ReadLines("/proc/cpuinfo").FirstOrDefault(l => l.StartsWith("model name", StringComparison.Ordinal))?.Split(':', 2)[1].Trim() ?? cpu;
        }
        catch (IOException)
        {
        }
        return $"{cpu}, {Environment.ProcessorCount} logical cores, {System.Runtime.InteropServices.RuntimeInformation.OSDescription}, " +
               $".NET {Environment.Version}, {DateTime.UtcNow:yyyy-MM-dd} (shared machine: other builds ran at the same time)";
    }
}
