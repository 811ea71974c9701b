using System.Globalization;
using Parquet;
using Parquet.Schema;

namespace MLNetVae.Tests.Cli;

/// <summary>
/// Parquet input for the CLI (<c>.parquet</c>): a list column of floats as the vector (the usual layout of embeddings),
/// or numeric columns, read row group by row group; the same rows train the same model as from CSV; damaged or
/// ill-typed files get one-line errors naming the file, the column and what is wrong.
/// </summary>
public sealed class CliParquetTests : IDisposable
{
    private readonly string temp = Directory.CreateTempSubdirectory("mlnetvae-cli-parquet-").FullName;

    public void Dispose() => Directory.Delete(temp, recursive: true);

    private string Temp(string name) => Path.Combine(temp, name);

    private static readonly (int Label, double[] Values)[] Rows = TrainedCliModel.Rows(240, 12, seed: 9).ToArray();

    /// <summary>
    /// Writes <see cref="Rows"/> as Parquet in row groups of <paramref name="groupRows"/>: an <c>id</c> string column,
    /// a boolean label and the features as a list column <c>embedding</c> (nullable floats, as pyarrow writes them).
    /// <paramref name="lengthOf"/> can change a row's vector length to damage the file.
    /// </summary>
    private static async Task WriteEmbeddingsAsync(string path, int groupRows, Func<int, int>? lengthOf = null, bool numericId = false)
    {
        DataField id = numericId ? new DataField<long>("id") : new DataField<string>("id");
        var label = new DataField<bool>("is_anomaly");
        var embedding = new ListField("embedding", new DataField<float?>("element"));
        var schema = new ParquetSchema(id, label, embedding);
        await using var stream = File.Create(path);
        await using var writer = await ParquetWriter.CreateAsync(schema, stream);
        for (int start = 0; start < Rows.Length; start += groupRows)
        {
            var group = Rows.Skip(start).Take(groupRows).ToArray();
            using var rowGroup = writer.CreateRowGroup();
            if (numericId)
                await rowGroup.WriteAsync<long>((DataField<long>)id, group.Select((_, i) => (long)(start + i)).ToArray());
            else
                await rowGroup.WriteAsync((DataField<string>)id, group.Select((_, i) => $"row-{start + i}").ToArray());
            await rowGroup.WriteAsync<bool>(label, group.Select(r => r.Label == 1).ToArray());
            var values = new List<float?>();
            var repetitions = new List<int>();
            for (int i = 0; i < group.Length; i++)
            {
                int length = lengthOf?.Invoke(start + i) ?? group[i].Values.Length;
                for (int j = 0; j < length; j++)
                {
                    values.Add((float)group[i].Values[j % group[i].Values.Length]);
                    repetitions.Add(j == 0 ? 0 : 1);
                }
            }
            await rowGroup.WriteAsync<float>(schema.DataFields[2], values.ToArray(), repetitions.ToArray());
        }
    }

    private static float[] Scores(string csv)
    {
        var lines = File.ReadAllLines(csv);
        int column = Array.IndexOf(lines[0].Split(','), "Score");
        return lines.Skip(1).Select(l => float.Parse(l.Split(',')[column], CultureInfo.InvariantCulture)).ToArray();
    }

    [Fact]
    public async Task AModelOfOneNamedVectorColumnScoresParquetWithANumericIdBesideIt()
    {
        // The model reads one vector column, 'embedding'. The file also has an int64 id: scoring must read the column by
        // name (before, Parquet was searched for a CSV header, and every numeric column, the id too, made the vector).
        string parquet = Temp("with-id.parquet");
        await WriteEmbeddingsAsync(parquet, groupRows: 100, numericId: true);
        var train = CliProcess.Run("train", "-d", parquet, "-o", Temp("id-model"), "--label-column", "is_anomaly", "--input-column", "embedding",
            "--hidden", "8", "--latent", "2", "--epochs", "2", "--seed", "4");
        Assert.True(train.ExitCode == 0, train.ToString());
        var score = CliProcess.Run("score", "-m", Temp("id-model/model.zip"), "-d", parquet, "-o", Temp("id-scores.csv"));
        Assert.True(score.ExitCode == 0, score.ToString());
        Assert.Equal(Rows.Length, Scores(Temp("id-scores.csv")).Length);
    }

    [Fact]
    public async Task AnEmbeddingListColumnTrainsScoresAndEvaluatesAndMatchesTheSameRowsFromCsv()
    {
        string parquet = Temp("embeddings.parquet");
        await WriteEmbeddingsAsync(parquet, groupRows: 50); // five row groups, the last one short
        string csv = Temp("embeddings.csv");
        CliProcess.WriteCsv(csv, TrainedCliModel.Header, Rows.Select(r => r.Values.Prepend(r.Label)));
        string[] training = ["--hidden", "8", "--latent", "2", "--epochs", "5", "--seed", "4"];

        var train = CliProcess.Run(["train", "-d", parquet, "-o", Temp("pq-model"), "--label-column", "is_anomaly", .. training]);
        Assert.True(train.ExitCode == 0, train.ToString());
        Assert.Contains("240 rows × 8 features, label column 'is_anomaly' with 12 anomalies", train.Out);
        var fromCsv = CliProcess.Run(["train", "-d", csv, "-o", Temp("csv-model"), .. training]);
        Assert.True(fromCsv.ExitCode == 0, fromCsv.ToString());

        var score = CliProcess.Run("score", "-m", Temp("pq-model/model.zip"), "-d", parquet, "-o", Temp("pq-scores.csv"), "--label-column", "is_anomaly");
        Assert.True(score.ExitCode == 0, score.ToString());
        var csvScore = CliProcess.Run("score", "-m", Temp("csv-model/model.zip"), "-d", csv, "-o", Temp("csv-scores.csv"));
        Assert.True(csvScore.ExitCode == 0, csvScore.ToString());
        // The same values in the same order, the same seed: the same model and the same scores.
        var fromParquet = Scores(Temp("pq-scores.csv"));
        var expected = Scores(Temp("csv-scores.csv"));
        Assert.Equal(240, fromParquet.Length);
        Assert.All(fromParquet.Zip(expected), p => Assert.True(Math.Abs(p.First - p.Second) <= 1e-4 * Math.Max(1, Math.Abs(p.Second)), $"{p.First} vs {p.Second}"));

        var evaluate = CliProcess.Run("evaluate", "-m", Temp("pq-model/model.zip"), "-d", parquet, "-o", Temp("pq-evaluation"), "--label-column", "is_anomaly");
        Assert.True(evaluate.ExitCode == 0, evaluate.ToString());
        Assert.Contains("ROC-AUC", evaluate.Out);
    }

    [Fact]
    public async Task AParquetFileLargerThanTheBudgetStreamsThroughTheShuffleBuffer()
    {
        // 240 rows × 8 floats is 7.5 KiB; a 1 MiB budget holds it, so the default run trains in memory and a run whose
        // rows are repeated 300 times (2.2 MiB) streams, recorded in report.json.
        string parquet = Temp("repeated.parquet");
        var id = new DataField<string>("id");
        var embedding = new ListField("embedding", new DataField<float?>("element"));
        var schema = new ParquetSchema(id, embedding);
        await using (var stream = File.Create(parquet))
        await using (var writer = await ParquetWriter.CreateAsync(schema, stream))
        {
            for (int copy = 0; copy < 300; copy += 50)
            {
                using var group = writer.CreateRowGroup();
                var rows = Enumerable.Range(0, 50).SelectMany(_ => Rows).ToArray();
                await group.WriteAsync(id, rows.Select((_, i) => $"r{i}").ToArray());
                await group.WriteAsync<float>(schema.DataFields[1], rows.SelectMany(r => r.Values.Select(v => (float?)v)).ToArray(),
                    rows.SelectMany(r => r.Values.Select((_, j) => j == 0 ? 0 : 1)).ToArray());
            }
        }
        var train = CliProcess.Run("train", "-d", parquet, "-o", Temp("streamed"), "--hidden", "8", "--latent", "2", "--epochs", "2", "--max-in-memory-mib", "1");
        Assert.True(train.ExitCode == 0, train.ToString());
        Assert.Contains("72000 rows × 8 features", train.Out);
        using var report = System.Text.Json.JsonDocument.Parse(File.ReadAllText(Temp("streamed/report.json")));
        var training = report.RootElement.GetProperty("training");
        Assert.Equal((1 << 20) / (8 * 4), training.GetProperty("shuffleBufferRows").GetInt32());
        var score = CliProcess.Run("score", "-m", Temp("streamed/model.zip"), "-d", parquet, "-o", Temp("streamed.csv"));
        Assert.True(score.ExitCode == 0, score.ToString());
        Assert.Equal(72_001, File.ReadLines(Temp("streamed.csv")).Count());
    }

    [Fact]
    public async Task NumericColumnsOfSeveralTypesAreTheFeaturesAndANullIsRefusedWithItsRowLikeAMissingCsvValue()
    {
        // A double, an int and a nullable float feature plus a 0/1 float label: pandas' usual column types.
        var a = new DataField<double>("a");
        var b = new DataField<int>("b");
        var c = new DataField<float?>("c");
        var label = new DataField<float>("Label");
        var schema = new ParquetSchema(label, a, b, c);
        async Task Write(string path, bool withNull)
        {
            await using var stream = File.Create(path);
            await using var writer = await ParquetWriter.CreateAsync(schema, stream);
            using var group = writer.CreateRowGroup();
            await group.WriteAsync<float>(label, Rows.Select(r => (float)r.Label).ToArray());
            await group.WriteAsync<double>(a, Rows.Select(r => r.Values[0]).ToArray());
            await group.WriteAsync<int>(b, Rows.Select(r => (int)Math.Round(10 * r.Values[1])).ToArray());
            await group.WriteAsync<float>(c, Rows.Select((r, i) => withNull && i == 17 ? (float?)null : (float)r.Values[2]).ToArray());
        }
        string good = Temp("numeric.parquet"), holed = Temp("with-null.parquet");
        await Write(good, withNull: false);
        await Write(holed, withNull: true);

        var train = CliProcess.Run("train", "-d", good, "-o", Temp("numeric-model"), "--hidden", "8", "--latent", "2", "--epochs", "2");
        Assert.True(train.ExitCode == 0, train.ToString());
        Assert.Contains("240 rows × 3 features", train.Out);

        var refused = CliProcess.Run("train", "-d", holed, "-o", Temp("null-model"), "--hidden", "8", "--latent", "2", "--epochs", "2");
        Assert.NotEqual(0, refused.ExitCode);
        Assert.Contains($"The data file '{holed}', row 18, column 'c': the value is null (missing)", refused.Error);
        Assert.DoesNotContain("   at ", refused.Error);
    }

    [Fact]
    public async Task DamagedAndIllTypedFilesGetOneLineErrorsNamingWhatIsWrong()
    {
        string parquet = Temp("good.parquet");
        await WriteEmbeddingsAsync(parquet, groupRows: 100);

        // Cut short: the footer is gone.
        string truncated = Temp("truncated.parquet");
        var bytes = await File.ReadAllBytesAsync(parquet);
        await File.WriteAllBytesAsync(truncated, bytes[..(bytes.Length * 2 / 3)]);
        var cut = CliProcess.Run("train", "-d", truncated, "-o", Temp("m1"));
        Assert.NotEqual(0, cut.ExitCode);
        Assert.Contains($"The data file '{truncated}' is not a readable Parquet file", cut.Error);

        // A string column named as the input.
        var text = CliProcess.Run("train", "-d", parquet, "-o", Temp("m2"), "--input-column", "id");
        Assert.NotEqual(0, text.ExitCode);
        Assert.Contains("The column 'id'", text.Error);
        Assert.Contains("is text (String)", text.Error);

        // A column that is not there.
        var missing = CliProcess.Run("train", "-d", parquet, "-o", Temp("m3"), "--input-column", "vectors");
        Assert.NotEqual(0, missing.ExitCode);
        Assert.Contains("has no column 'vectors'", missing.Error);
        Assert.Contains("'embedding'", missing.Error);

        // One row of the vector column is shorter than the others.
        string ragged = Temp("ragged.parquet");
        await WriteEmbeddingsAsync(ragged, groupRows: 100, lengthOf: row => row == 130 ? 7 : 8);
        var short_ = CliProcess.Run("train", "-d", ragged, "-o", Temp("m4"), "--label-column", "is_anomaly");
        Assert.NotEqual(0, short_.ExitCode);
        Assert.Contains("row 131, column 'embedding': the vector has 7 values; the column's other rows have 8", short_.Error);
        foreach (var run in new[] { cut, text, missing, short_ })
            Assert.DoesNotContain("   at ", run.Error);
    }
}
