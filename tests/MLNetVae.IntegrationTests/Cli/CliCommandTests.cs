using System.Globalization;
using System.Text.Json;
using Microsoft.ML;
using Microsoft.ML.Data;
using Microsoft.ML.OnnxRuntime;

namespace MLNetVae.Tests.Cli;

/// <summary>
/// A small labelled data set and one model trained on it by <c>mlnetvae train</c> in a separate process, shared by the
/// tests of the commands that read a model.
/// </summary>
public sealed class TrainedCliModel : IDisposable
{
    public const int Features = 8;
    public static readonly string[] Header = ["Label", .. Enumerable.Range(0, Features).Select(i => $"f{i}")];

    public TrainedCliModel()
    {
        Folder = Directory.CreateTempSubdirectory("mlnetvae-cli-process-").FullName;
        DataPath = Path.Combine(Folder, "train.csv");
        CliProcess.WriteCsv(DataPath, Header, Rows(rows: 300, anomalies: 15, seed: 1).Select(r => r.Label == 1 ? r.Values.Prepend(1) : r.Values.Prepend(0)));
        ModelFolder = Path.Combine(Folder, "model");
        Train = CliProcess.Run("train", "--data", DataPath, "--output", ModelFolder,
            "--hidden", "16", "--latent", "2", "--epochs", "15", "--batch-size", "32", "--seed", "3");
    }

    public string Folder { get; }
    public string DataPath { get; }
    public string ModelFolder { get; }
    public string ModelPath => Path.Combine(ModelFolder, "model.zip");
    public CliResult Train { get; }

    public void Dispose() => Directory.Delete(Folder, recursive: true);

    /// <summary>
    /// Normal rows lie near a 2-D plane in 8-D (x = A z + small noise); anomalies are uniform in a box. Seeded, so every
    /// run of the tests sees the same file.
    /// </summary>
    public static IEnumerable<(int Label, double[] Values)> Rows(int rows, int anomalies, int seed)
    {
        var random = new Random(seed);
        double Normal() => Math.Sqrt(-2 * Math.Log(1 - random.NextDouble())) * Math.Cos(2 * Math.PI * random.NextDouble());
        var a = new double[Features, 2];
        for (int i = 0; i < Features; i++)
            for (int j = 0; j < 2; j++)
                a[i, j] = Math.Round(Normal(), 2);
        for (int r = 0; r < rows; r++)
        {
            bool anomaly = r % (rows / anomalies) == rows / anomalies - 1;
            double z0 = Normal(), z1 = Normal();
            var values = new double[Features];
            for (int i = 0; i < Features; i++)
                values[i] = Math.Round(anomaly ? 8 * random.NextDouble() - 4 : a[i, 0] * z0 + a[i, 1] * z1 + 0.05 * Normal(), 4);
            yield return (anomaly ? 1 : 0, values);
        }
    }
}

/// <summary>
/// The commands run as a user runs them: <c>dotnet MLNetVae.Cli.dll ...</c> in a separate process. Exit codes, the files
/// written, and the one-line messages for bad input.
/// </summary>
public sealed class CliCommandTests(TrainedCliModel trained) : IClassFixture<TrainedCliModel>, IDisposable
{
    private readonly string temp = Directory.CreateTempSubdirectory("mlnetvae-cli-test-").FullName;

    public void Dispose() => Directory.Delete(temp, recursive: true);

    private string Temp(string name) => Path.Combine(temp, name);

    [Fact]
    public void TrainWritesModelOnnxReportAndLossPlot_AndNeverOverwritesUnasked()
    {
        var run = trained.Train;
        Assert.True(run.ExitCode == 0, run.ToString());
        Assert.Contains("300 rows × 8 features", run.Out);
        Assert.Contains("label column 'Label' with 15 anomalies", run.Out);
        foreach (var file in new[] { "model.zip", "encoder.onnx", "decoder.onnx", "report.json", "loss.png" })
            Assert.True(new FileInfo(Path.Combine(trained.ModelFolder, file)).Length > 0, $"{file} missing or empty");

        using var report = JsonDocument.Parse(File.ReadAllText(Path.Combine(trained.ModelFolder, "report.json")));
        var root = report.RootElement;
        Assert.Equal(15, root.GetProperty("training").GetProperty("epochsRun").GetInt32());
        Assert.False(root.GetProperty("stoppedByCtrlC").GetBoolean());
        Assert.Equal(1, root.GetProperty("threads").GetInt32()); // the CLI's default
        var threshold = root.GetProperty("anomalyThreshold");
        Assert.Equal(0.05, threshold.GetProperty("contamination").GetDouble());
        // The default --calibration-fraction 0.2 holds about 60 of the 300 rows out of training to set the threshold on.
        Assert.Equal(0.2, threshold.GetProperty("calibrationFraction").GetDouble());
        int calibrationRows = threshold.GetProperty("calibrationRows").GetInt32(), trainingRows = threshold.GetProperty("trainingRows").GetInt32();
        Assert.Equal(300, calibrationRows + trainingRows);
        Assert.InRange(calibrationRows, 40, 80);
        Assert.Equal(trainingRows, root.GetProperty("training").GetProperty("trainingRows").GetInt32() + root.GetProperty("training").GetProperty("validationRows").GetInt32());
        // Strictly above the 95% quantile: at most 5% of the held-out rows.
        Assert.InRange(threshold.GetProperty("flaggedCalibrationRows").GetInt32(), 0, (int)(0.05 * calibrationRows));
        Assert.Contains("held out from training to set the threshold on (--calibration-fraction 0.2)", run.Out);
        Assert.Contains($"above it: {threshold.GetProperty("flaggedCalibrationRows").GetInt32()} of {calibrationRows} held-out rows", run.Out);
        // The library's detector with its defaults: the negative-ELBO score, named in the output and the report.
        Assert.Contains("score NegativeElbo (10 draws)", run.Out);
        Assert.Equal("NegativeElbo", root.GetProperty("detector").GetProperty("score").GetString());
        var labels = root.GetProperty("labels");
        Assert.Equal("held-out rows", labels.GetProperty("rows").GetString());
        Assert.True(labels.GetProperty("result").GetProperty("rocAuc").GetDouble() > 0.8);

        using (var encoder = new InferenceSession(Path.Combine(trained.ModelFolder, "encoder.onnx")))
            Assert.Equal(8, encoder.InputMetadata["features"].Dimensions[1]);

        // The same command again: refused before any work, the existing files untouched.
        var stamp = File.GetLastWriteTimeUtc(trained.ModelPath);
        var again = CliProcess.Run("train", "--data", trained.DataPath, "--output", trained.ModelFolder, "--epochs", "1");
        Assert.Equal(2, again.ExitCode);
        Assert.Contains("already exist", again.Error);
        Assert.Contains("--overwrite", again.Error);
        Assert.DoesNotContain("   at ", again.Error);
        Assert.Equal(stamp, File.GetLastWriteTimeUtc(trained.ModelPath));
    }

    [Fact]
    public void ScoreWritesIndexMuScoreAndDecision_ByColumnNameInAnyOrder()
    {
        string scores = Temp("scores.csv");
        var run = CliProcess.Run("score", "--model", trained.ModelPath, "--data", trained.DataPath, "--output", scores);
        Assert.True(run.ExitCode == 0, run.ToString());
        Assert.Contains("Flagged", run.Out);

        var lines = File.ReadAllLines(scores);
        Assert.Equal("Row,Mu0,Mu1,Score,PredictedLabel,Label", lines[0]);
        Assert.Equal(301, lines.Length);
        var rows = lines.Skip(1).Select(l => l.Split(',')).ToArray();
        Assert.Equal(Enumerable.Range(0, 300).Select(i => i.ToString(CultureInfo.InvariantCulture)), rows.Select(r => r[0]));
        float threshold = ReadThreshold();
        foreach (var row in rows)
        {
            float score = float.Parse(row[3], CultureInfo.InvariantCulture);
            Assert.True(float.IsFinite(score) && score >= 0);
            Assert.Equal(score > threshold ? "1" : "0", row[4]);
        }
        // Anomalies score higher than normal rows on this data.
        double MeanScore(string label) => rows.Where(r => r[5] == label).Average(r => double.Parse(r[3], CultureInfo.InvariantCulture));
        Assert.True(MeanScore("1") > 3 * MeanScore("0"));

        // Columns are found by name: a file with the columns reversed, no label and an extra text column scores the same.
        string shuffled = Temp("shuffled.csv");
        var original = File.ReadAllLines(trained.DataPath).Select(l => l.Split(',')).ToArray();
        File.WriteAllLines(shuffled, original.Select((f, i) => string.Join(',', f.Skip(1).Reverse().Append(i == 0 ? "note" : "text"))));
        string again = Temp("scores2.csv");
        var second = CliProcess.Run("score", "-m", trained.ModelPath, "-d", shuffled, "-o", again);
        Assert.True(second.ExitCode == 0, second.ToString());
        var secondLines = File.ReadAllLines(again);
        Assert.Equal("Row,Mu0,Mu1,Score,PredictedLabel", secondLines[0]);
        Assert.Equal(lines.Skip(1).Select(l => string.Join(',', l.Split(',').Take(5))), secondLines.Skip(1));

        // Not again without --overwrite; --threshold overrides the model's decision.
        var refused = CliProcess.Run("score", "-m", trained.ModelPath, "-d", shuffled, "-o", again);
        Assert.Equal(2, refused.ExitCode);
        Assert.Contains("already exists", refused.Error);
        var everything = CliProcess.Run("score", "-m", trained.ModelPath, "-d", shuffled, "-o", again, "--overwrite", "--threshold", "0");
        Assert.True(everything.ExitCode == 0, everything.ToString());
        Assert.All(File.ReadAllLines(again).Skip(1), l => Assert.EndsWith(",1", l));
    }

    [Fact]
    public void NumbersOnTheCommandLineReadTheSameOnAGermanMachine()
    {
        // de-DE reads "0.5" as 5 ('.' groups thousands there); the CLI's numbers always use '.' as the decimal point.
        var german = new Dictionary<string, string> { ["LANG"] = "de_DE.UTF-8", ["LC_ALL"] = "de_DE.UTF-8" };
        var run = CliProcess.RunWith(null, german, TimeSpan.FromMinutes(2),
            "score", "-m", trained.ModelPath, "-d", trained.DataPath, "-o", Temp("german.csv"), "--threshold", "0.5");
        Assert.True(run.ExitCode == 0, run.ToString());
        Assert.Contains("with score > 0.5 (threshold", run.Out);
    }

    [Fact]
    public void EvaluateReportsAucPrecisionRecallAndWritesBothPlots()
    {
        string output = Temp("evaluation");
        var run = CliProcess.Run("evaluate", "--model", trained.ModelPath, "--data", trained.DataPath, "--output", output);
        Assert.True(run.ExitCode == 0, run.ToString());
        Assert.Contains("ROC-AUC", run.Out);
        Assert.Contains("Precision", run.Out);
        foreach (var png in new[] { "score-histogram.png", "roc.png" })
            Assert.Equal([0x89, 0x50, 0x4E, 0x47], File.ReadAllBytes(Path.Combine(output, png)).Take(4));

        using var report = JsonDocument.Parse(File.ReadAllText(Path.Combine(output, "evaluation.json")));
        var result = report.RootElement.GetProperty("result");
        Assert.True(result.GetProperty("rocAuc").GetDouble() > 0.8);
        Assert.Equal(300, result.GetProperty("rows").GetInt32());
        Assert.Equal(15, result.GetProperty("anomalies").GetInt32());
        Assert.Equal(ReadThreshold(), result.GetProperty("threshold").GetSingle());
        int tp = result.GetProperty("truePositives").GetInt32(), flagged = result.GetProperty("flagged").GetInt32();
        Assert.Equal(flagged == 0 ? 0 : (double)tp / flagged, result.GetProperty("precision").GetDouble(), 9);
        Assert.Equal(tp / 15.0, result.GetProperty("recall").GetDouble(), 9);
    }

    [Fact]
    public void ExportWritesTheOnnxPair_AndReplacesItOnlyWithOverwrite()
    {
        string output = Temp("onnx");
        var run = CliProcess.Run("export", "--model", trained.ModelPath, "--output", output);
        Assert.True(run.ExitCode == 0, run.ToString());
        using (var decoder = new InferenceSession(Path.Combine(output, "decoder.onnx")))
        {
            Assert.Equal(2, decoder.InputMetadata["z"].Dimensions[1]);
            Assert.Equal(8, decoder.OutputMetadata["reconstruction"].Dimensions[1]);
        }
        Assert.Equal(File.ReadAllBytes(Path.Combine(trained.ModelFolder, "decoder.onnx")), File.ReadAllBytes(Path.Combine(output, "decoder.onnx")));

        var refused = CliProcess.Run("export", "--model", trained.ModelPath, "--output", output);
        Assert.Equal(2, refused.ExitCode);
        Assert.Contains("encoder.onnx", refused.Error);
        var replaced = CliProcess.Run("export", "--model", trained.ModelPath, "--output", output, "--overwrite");
        Assert.True(replaced.ExitCode == 0, replaced.ToString());
    }

    [Fact]
    public void SampleWritesGeneratedRowsWithTheTrainingHeader_ReproduciblyBySeed()
    {
        string first = Temp("samples.csv"), second = Temp("samples2.csv");
        var run = CliProcess.Run("sample", "--model", trained.ModelPath, "--output", first, "--count", "25", "--seed", "4");
        Assert.True(run.ExitCode == 0, run.ToString());
        var lines = File.ReadAllLines(first);
        Assert.Equal(string.Join(',', TrainedCliModel.Header.Skip(1)), lines[0]);
        Assert.Equal(26, lines.Length);
        Assert.All(lines.Skip(1), l => Assert.All(l.Split(','), v => Assert.True(float.IsFinite(float.Parse(v, CultureInfo.InvariantCulture)))));
        Assert.True(lines.Skip(1).Distinct().Count() > 20, "the generated rows should differ");

        Assert.Equal(0, CliProcess.Run("sample", "-m", trained.ModelPath, "-o", second, "-n", "25", "--seed", "4").ExitCode);
        Assert.Equal(lines, File.ReadAllLines(second));
    }

    [Fact]
    public void UnlabelledCsvTrainsOnEveryColumn_AndEvaluateThenAsksForLabels()
    {
        string csv = Temp("unlabelled.csv");
        CliProcess.WriteCsv(csv, TrainedCliModel.Header.Skip(1).ToArray(), TrainedCliModel.Rows(100, 5, seed: 2).Select(r => r.Values));
        string output = Temp("unlabelled-model");
        // 100 rows: hold out 30% so that the threshold has at least 20 rows (the detector's minimum).
        var run = CliProcess.Run("train", "-d", csv, "-o", output, "--hidden", "8", "--latent", "2", "--epochs", "2", "--calibration-fraction", "0.3");
        Assert.True(run.ExitCode == 0, run.ToString());
        Assert.Contains("no label column: every column is a feature", run.Out);
        Assert.Contains("100 rows × 8 features", run.Out);

        var evaluate = CliProcess.Run("evaluate", "-m", Path.Combine(output, "model.zip"), "-d", csv, "-o", Temp("eval"));
        Assert.Equal(2, evaluate.ExitCode);
        Assert.Contains("has no column 'Label' (evaluate needs labels)", evaluate.Error);
        Assert.Contains("--label-column", evaluate.Error);
    }

    [Fact]
    public void MLNetBinaryDataWithAVectorColumnTrainsAndScores()
    {
        // An .idv written by mlContext.Data.SaveAsBinary: a Boolean label and a vector Features column.
        var ml = new MLContext(seed: 1);
        var rows = TrainedCliModel.Rows(120, 6, seed: 5)
            .Select(r => new VectorRow { Label = r.Label == 1, Features = r.Values.Select(v => (float)v).ToArray() }).ToArray();
        string idv = Temp("data.idv");
        using (var stream = File.Create(idv))
            ml.Data.SaveAsBinary(ml.Data.LoadFromEnumerable(rows), stream);

        string output = Temp("idv-model");
        var train = CliProcess.Run("train", "-d", idv, "-o", output, "--hidden", "8", "--latent", "2", "--epochs", "2");
        Assert.True(train.ExitCode == 0, train.ToString());
        Assert.Contains("120 rows × 8 features, label column 'Label' with 6 anomalies", train.Out);

        string scores = Temp("idv-scores.csv");
        var score = CliProcess.Run("score", "-m", Path.Combine(output, "model.zip"), "-d", idv, "-o", scores);
        Assert.True(score.ExitCode == 0, score.ToString());
        Assert.Equal("Row,Mu0,Mu1,Score,PredictedLabel,Label", File.ReadLines(scores).First());
        Assert.Equal(121, File.ReadAllLines(scores).Length);

        // A typed file is not scanned as it is read: a NaN (or a double past float's range) in it is refused at scoring,
        // naming the row, as a text file's cell is, instead of a silent "Score NaN, not flagged" line.
        rows[7].Features[2] = float.NaN;
        rows[30].Features[0] = float.PositiveInfinity;
        string withNaN = Temp("nan.idv");
        using (var stream = File.Create(withNaN))
            ml.Data.SaveAsBinary(ml.Data.LoadFromEnumerable(rows), stream);
        var refused = CliProcess.Run("score", "-m", Path.Combine(output, "model.zip"), "-d", withNaN, "-o", Temp("nan-scores.csv"));
        Assert.True(refused.ExitCode == 2, refused.ToString());
        Assert.Contains($"Row 8 of '{withNaN}' and 1 more has NaN or ∞", refused.Error);
        Assert.False(File.Exists(Temp("nan-scores.csv")));

        // An output path under a file fails before the scoring, as a usage error.
        File.WriteAllText(Temp("notes.txt"), "kept");
        var underFile = CliProcess.Run("score", "-m", Path.Combine(output, "model.zip"), "-d", idv, "-o", Path.Combine(Temp("notes.txt"), "s.csv"));
        Assert.True(underFile.ExitCode == 2, underFile.ToString());
        Assert.Contains("is a file", underFile.Error);
        Assert.Equal("kept", File.ReadAllText(Temp("notes.txt")));
    }

    [Fact]
    public void CtrlCStopsTrainingAndKeepsTheBestModelSoFar()
    {
        string output = Temp("interrupted");
        // Far more epochs than the test waits for; SIGINT as soon as the first epoch is reported.
        var run = CliProcess.RunAndInterrupt("epoch   1/", TimeSpan.FromMinutes(2),
            "train", "-d", trained.DataPath, "-o", output, "--hidden", "16", "--latent", "2", "--epochs", "100000", "--patience", "0", "--batch-size", "16");

        Assert.True(run.ExitCode == 130, run.ToString());
        Assert.Contains("Stopped by Ctrl+C", run.Error);
        Assert.Contains("best model so far", run.Error);
        using (var report = JsonDocument.Parse(File.ReadAllText(Path.Combine(output, "report.json"))))
        {
            Assert.True(report.RootElement.GetProperty("stoppedByCtrlC").GetBoolean());
            var training = report.RootElement.GetProperty("training");
            Assert.InRange(training.GetProperty("epochsRun").GetInt32(), 1, 99_999);
            Assert.StartsWith("cancelled during epoch", training.GetProperty("stopReason").GetString());
        }
        // The kept model is a complete one: it scores.
        var score = CliProcess.Run("score", "-m", Path.Combine(output, "model.zip"), "-d", trained.DataPath, "-o", Temp("interrupted.csv"));
        Assert.True(score.ExitCode == 0, score.ToString());
    }

    [Fact]
    public void ACliModelIsTheLibrarysDetectorAndALibraryPipelineScoresInTheCli()
    {
        // What train wrote loads in an application as the library's detector, with the threshold the report states.
        var ml = new MLContext(seed: 1);
        var chain = Assert.IsType<TransformerChain<ITransformer>>(ml.Model.LoadWithFastVae(trained.ModelPath, out _));
        using var detector = Assert.IsType<VaeAnomalyTransformer>(chain.LastTransformer);
        Assert.Equal(ReadThreshold(), detector.Threshold);
        Assert.Equal(VaeAnomalyScoreKind.NegativeElbo, detector.ScoreKind);

        // And a pipeline an application fitted and saved (named columns → Concatenate → detector) scores in the CLI.
        var columns = TrainedCliModel.Header.Select((name, i) => new TextLoader.Column(name, DataKind.Single, i)).ToArray();
        var data = ml.Data.LoadFromTextFile(trained.DataPath, columns, separatorChar: ',', hasHeader: true);
        var pipeline = ml.Transforms.Concatenate("Features", TrainedCliModel.Header.Skip(1).ToArray())
            .Append(ml.AnomalyDetection.Trainers.VariationalAutoencoder(new VaeAnomalyOptions { HiddenDim = 16, LatentDim = 2, Epochs = 5, NumberOfThreads = 1, Seed = 4 }))
            .Fit(data);
        string path = Temp("library-pipeline.zip");
        ml.Model.SaveSafely(pipeline, data.Schema, path);
        var run = CliProcess.Run("score", "-m", path, "-d", trained.DataPath, "-o", Temp("library-scores.csv"));
        Assert.True(run.ExitCode == 0, run.ToString());
        Assert.Contains($"anomaly detector: score NegativeElbo, threshold {pipeline.LastTransformer.Threshold.ToString("G6", System.Globalization.CultureInfo.InvariantCulture)}", run.Out);
        var expected = TestSupport.TestData.ReadScalars(pipeline.Transform(data), "Score");
        var written = File.ReadLines(Temp("library-scores.csv")).Skip(1).Select(l => float.Parse(l.Split(',')[1 + 2], System.Globalization.CultureInfo.InvariantCulture)).ToArray();
        Assert.Equal(expected.Length, written.Length);
        for (int i = 0; i < expected.Length; i++)
            Assert.True(Math.Abs(expected[i] - written[i]) <= 1e-4 * Math.Max(1, Math.Abs(expected[i])), $"row {i}: {written[i]} vs {expected[i]}");
        pipeline.LastTransformer.Dispose();
    }

    [Fact]
    public void AnInt8CliModelLoadsAsInt8AndTheCliScoresAsTheLibrary()
    {
        string folder = TrainSmallModel("int8", "int8 scoring", "--precision", "int8");

        var ml = new MLContext(seed: 1);
        var chain = Assert.IsType<TransformerChain<ITransformer>>(ml.Model.LoadWithFastVae(Path.Combine(folder, "model.zip"), out _));
        using var detector = Assert.IsType<VaeAnomalyTransformer>(chain.LastTransformer);
        Assert.Equal(VaeScoringPrecision.Int8, detector.ScoringPrecision);

        var (data, expected) = AssertTheCliScoresAsTheChain(ml, chain, Path.Combine(folder, "model.zip"), "int8-scores.csv");
        // And the same model at float32 scores differently: the CLI really scored in int8.
        using var float32 = detector.WithScoringPrecision(VaeScoringPrecision.Float32);
        Assert.NotEqual(expected, TestSupport.TestData.ReadScalars(float32.Transform(chain.Take(chain.Count() - 1).Aggregate(data, (v, t) => t.Transform(v))), "Score"));
    }

    /// <summary>CLI <c>train</c> of a small model on the trained CSV with <paramref name="flags"/>; its output names them (<paramref name="shown"/>).</summary>
    private string TrainSmallModel(string name, string shown, params string[] flags)
    {
        string folder = Temp(name);
        var train = CliProcess.Run(["train", "--data", trained.DataPath, "--output", folder,
            "--hidden", "16", "--latent", "2", "--epochs", "5", "--batch-size", "32", "--seed", "3", .. flags]);
        Assert.True(train.ExitCode == 0, train.ToString());
        Assert.Contains(shown, train.Out);
        return folder;
    }

    /// <summary>
    /// CLI <c>score</c> of the trained CSV with <paramref name="modelPath"/> writes, to float32 rounding, the scores the
    /// library's <paramref name="chain"/> (the same file, loaded) gives; returns the data and those scores.
    /// </summary>
    private (IDataView Data, float[] Scores) AssertTheCliScoresAsTheChain(MLContext ml, TransformerChain<ITransformer> chain, string modelPath, string outputName)
    {
        var run = CliProcess.Run("score", "-m", modelPath, "-d", trained.DataPath, "-o", Temp(outputName));
        Assert.True(run.ExitCode == 0, run.ToString());
        var columns = TrainedCliModel.Header.Select((name, i) => new TextLoader.Column(name, DataKind.Single, i)).ToArray();
        var data = ml.Data.LoadFromTextFile(trained.DataPath, columns, separatorChar: ',', hasHeader: true);
        var expected = TestSupport.TestData.ReadScalars(chain.Transform(data), "Score");
        var written = File.ReadLines(Temp(outputName)).Skip(1).Select(l => float.Parse(l.Split(',')[1 + 2], CultureInfo.InvariantCulture)).ToArray();
        Assert.Equal(expected.Length, written.Length);
        for (int i = 0; i < expected.Length; i++)
            Assert.True(Math.Abs(expected[i] - written[i]) <= 1e-5 * Math.Max(1, Math.Abs(expected[i])), $"row {i}: {written[i]} vs {expected[i]}");
        return (data, expected);
    }

    [Fact]
    public void AStudentTCliModelIsTheLibrarysStudentTDetector()
    {
        string folder = TrainSmallModel("student", "StudentT likelihood", "--likelihood", "StudentT");
        using (var report = JsonDocument.Parse(File.ReadAllText(Path.Combine(folder, "report.json"))))
            Assert.Equal("StudentT", report.RootElement.GetProperty("detector").GetProperty("likelihood").GetString());

        var ml = new MLContext(seed: 1);
        var chain = Assert.IsType<TransformerChain<ITransformer>>(ml.Model.LoadWithFastVae(Path.Combine(folder, "model.zip"), out _));
        using var detector = Assert.IsType<VaeAnomalyTransformer>(chain.LastTransformer);
        Assert.Equal(VaeAnomalyLikelihood.StudentT, detector.Options.Likelihood);
        AssertTheCliScoresAsTheChain(ml, chain, Path.Combine(folder, "model.zip"), "student-scores.csv");

        AssertUsageError(CliProcess.Run("train", "-d", trained.DataPath, "-o", Temp("student-bad"), "--likelihood", "Cauchy"), "--likelihood");
    }

    [Fact]
    public void ALibraryModelWithAVectorInputColumnScoresACsvInTheCli()
    {
        // The usual library pipeline: a TextLoader range makes one vector column, the detector reads it.
        var ml = new MLContext(seed: 1);
        int features = TrainedCliModel.Header.Length - 1;
        var data = ml.Data.LoadFromTextFile(trained.DataPath,
            [new TextLoader.Column("Label", DataKind.Single, 0), new TextLoader.Column("Features", DataKind.Single, 1, features)],
            separatorChar: ',', hasHeader: true);
        using var detector = ml.AnomalyDetection.Trainers.VariationalAutoencoder(new VaeAnomalyOptions { HiddenDim = 16, LatentDim = 2, Epochs = 5, NumberOfThreads = 1, Seed = 4 })
            .Fit(data);
        string path = Temp("vector-input.zip");
        ml.Model.SaveSafely(detector, data.Schema, path);

        // The CSV has no 'Features' column: its columns besides the label are read, in order, as that vector.
        var run = CliProcess.Run("score", "-m", path, "-d", trained.DataPath, "-o", Temp("vector-scores.csv"));
        Assert.True(run.ExitCode == 0, run.ToString());
        var expected = TestSupport.TestData.ReadScalars(detector.Transform(data), "Score");
        var written = File.ReadLines(Temp("vector-scores.csv")).Skip(1).Select(l => float.Parse(l.Split(',')[1 + 2], System.Globalization.CultureInfo.InvariantCulture)).ToArray();
        Assert.Equal(expected.Length, written.Length);
        for (int i = 0; i < expected.Length; i++)
            Assert.True(Math.Abs(expected[i] - written[i]) <= 1e-5 * Math.Max(1, Math.Abs(expected[i])), $"row {i}: {written[i]} vs {expected[i]}");

        var evaluate = CliProcess.Run("evaluate", "-m", path, "-d", trained.DataPath, "-o", Temp("vector-eval"));
        Assert.True(evaluate.ExitCode == 0, evaluate.ToString());

        // A file with a column too few says what the model reads and what the file has.
        string narrow = Temp("vector-narrow.csv");
        File.WriteAllLines(narrow, File.ReadAllLines(trained.DataPath).Select(l => string.Join(',', l.Split(',').SkipLast(1))));
        AssertUsageError(CliProcess.Run("score", "-m", path, "-d", narrow, "-o", Temp("o-narrow.csv")),
            $"reads one column 'Features', a vector of {features} values", $"its {features - 1} other column(s)");
    }

    [Fact]
    public void BadInputGivesOneReadableLineAndExitCode2()
    {
        string model = trained.ModelPath, data = trained.DataPath;

        // A missing file, named.
        string missing = Temp("missing.csv");
        AssertUsageError(CliProcess.Run("train", "-d", missing, "-o", Temp("o1")), missing, "was not found");
        AssertUsageError(CliProcess.Run("score", "-m", Temp("missing.zip"), "-d", data, "-o", Temp("o.csv")), "missing.zip", "was not found");

        // A wrong column name: the message names it and lists what is there.
        AssertUsageError(CliProcess.Run("train", "-d", data, "-o", Temp("o2"), "--label-column", "Target"),
            "has no column 'Target'", "'Label', 'f0'");
        AssertUsageError(CliProcess.Run("train", "-d", data, "-o", Temp("o3"), "--input-column", "f0,f9"), "has no column 'f9'");

        // A non-numeric value: line and column.
        string text = Temp("text.csv");
        var lines = File.ReadAllLines(data);
        lines[3] = string.Join(',', lines[3].Split(',').Select((v, i) => i == 3 ? "abc" : v));
        File.WriteAllLines(text, lines);
        AssertUsageError(CliProcess.Run("train", "-d", text, "-o", Temp("o4")), "line 4, column 'f2'", "'abc' is not a finite number");
        AssertUsageError(CliProcess.Run("score", "-m", model, "-d", text, "-o", Temp("o4.csv")), "line 4, column 'f2'");

        // Data without one of the model's columns.
        string narrow = Temp("narrow.csv");
        File.WriteAllLines(narrow, File.ReadAllLines(data).Select(l => string.Join(',', l.Split(',').Where((_, i) => i != 5))));
        AssertUsageError(CliProcess.Run("score", "-m", model, "-d", narrow, "-o", Temp("o5.csv")), "has no column 'f4' (the model's input columns)");

        // Model files of another kind: a text file, and an ML.NET model without a VAE.
        string notAModel = Temp("notes.zip");
        File.WriteAllText(notAModel, "not a model");
        AssertUsageError(CliProcess.Run("score", "-m", notAModel, "-d", data, "-o", Temp("o6.csv")), "not a readable ML.NET model zip", "mlnetvae train");
        string plain = Temp("plain-mlnet.zip");
        var ml = new MLContext(seed: 1);
        var rows = ml.Data.LoadFromEnumerable(new[] { new Row { F = [1, 2] }, new Row { F = [3, 4] } });
        ml.Model.Save(ml.Transforms.NormalizeMinMax("F").Fit(rows), rows.Schema, plain);
        AssertUsageError(CliProcess.Run("export", "-m", plain, "-o", Temp("o7")), "is an ML.NET model without a VAE");
        AssertUsageError(CliProcess.Run("evaluate", "-m", plain, "-d", data, "-o", Temp("o8")), "is an ML.NET model without a VAE");

        // Invalid and missing options.
        AssertUsageError(CliProcess.Run("train", "-d", data, "-o", Temp("o9"), "--epochs", "0"), "--epochs must be a positive number");
        AssertUsageError(CliProcess.Run("train", "-d", data, "-o", Temp("o9"), "--contamination", "0.9"), "--contamination must be in");
        AssertUsageError(CliProcess.Run("train", "-d", data, "-o", Temp("o9"), "--samples", "5000"), "--samples must be in [1, 1000]; got 5000.");
        AssertUsageError(CliProcess.Run("train", "-d", data, "-o", Temp("o9"), "--max-in-memory-mib", "9000000000000"),
            "--max-in-memory-mib must be in [1, 8796093022207]; got 9000000000000.");
        AssertUsageError(CliProcess.Run("score", "-m", model, "-o", Temp("o10.csv")), "--data");

        // --verbose adds the stack trace.
        var verbose = CliProcess.Run("score", "-m", notAModel, "-d", data, "-o", Temp("o11.csv"), "--verbose");
        Assert.Equal(2, verbose.ExitCode);
        Assert.Contains("at ", verbose.Error);
        Assert.True(verbose.Error.Split('\n').Length > 3);
        Assert.False(Directory.Exists(Temp("o1")) || Directory.Exists(Temp("o4")) || File.Exists(Temp("o6.csv")), "nothing is written on bad input");
    }

    private static void AssertUsageError(CliResult run, params string[] fragments)
    {
        Assert.True(run.ExitCode == 2, run.ToString());
        foreach (var fragment in fragments)
            Assert.True(run.Error.Contains(fragment, StringComparison.Ordinal), $"'{fragment}' not in the error output:\n{run.Error}");
        Assert.DoesNotContain("   at ", run.Error);
        Assert.DoesNotContain("Exception", run.Error);
    }

    private float ReadThreshold()
    {
        using var report = JsonDocument.Parse(File.ReadAllText(Path.Combine(trained.ModelFolder, "report.json")));
        return report.RootElement.GetProperty("anomalyThreshold").GetProperty("value").GetSingle();
    }

    private sealed class VectorRow
    {
        public bool Label { get; set; }

        [Microsoft.ML.Data.VectorType(TrainedCliModel.Features)]
        public float[] Features { get; set; } = [];
    }

    private sealed class Row
    {
        [Microsoft.ML.Data.VectorType(2)]
        public float[] F { get; set; } = [];
    }
}
