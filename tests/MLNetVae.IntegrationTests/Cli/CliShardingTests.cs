namespace MLNetVae.Tests.Cli;

/// <summary>
/// Scoring scales out by sharding (docs/scaling.md): one file split into parts, each scored by its own process at the
/// same time with the same model, gives exactly the scores of one process scoring the whole file.
/// </summary>
public sealed class CliShardingTests(TrainedCliModel trained) : IClassFixture<TrainedCliModel>, IDisposable
{
    private readonly string temp = Directory.CreateTempSubdirectory("mlnetvae-cli-shards-").FullName;

    public void Dispose() => Directory.Delete(temp, recursive: true);

    [Fact]
    public async Task ThreeProcessesScoringThreeShardsGiveTheScoresOfOneProcess()
    {
        Assert.True(trained.Train.ExitCode == 0, trained.Train.ToString());
        var lines = File.ReadAllLines(trained.DataPath);
        int rows = lines.Length - 1, shards = 3;
        var shardFiles = Enumerable.Range(0, shards).Select(s =>
        {
            string path = Path.Combine(temp, $"shard-{s}.csv");
            int start = s * rows / shards, end = (s + 1) * rows / shards;
            File.WriteAllLines(path, lines.Take(1).Concat(lines.Skip(1 + start).Take(end - start)));
            return path;
        }).ToArray();

        string whole = Path.Combine(temp, "whole.csv");
        var one = CliProcess.Run("score", "-m", trained.ModelPath, "-d", trained.DataPath, "-o", whole);
        Assert.True(one.ExitCode == 0, one.ToString());

        // The shards' processes run concurrently, as workers of a batch job would.
        var runs = shardFiles.Select(f => Task.Run(() => CliProcess.Run("score", "-m", trained.ModelPath, "-d", f, "-o", f + ".scores.csv"))).ToArray();
        foreach (var run in await Task.WhenAll(runs))
            Assert.True(run.ExitCode == 0, run.ToString());

        // Row numbers restart in each shard; every other column must be the same, in the same order.
        static IEnumerable<string> WithoutRow(IEnumerable<string> csv) => csv.Skip(1).Select(l => l[(l.IndexOf(',') + 1)..]);
        var expected = WithoutRow(File.ReadLines(whole)).ToArray();
        var sharded = shardFiles.SelectMany(f => WithoutRow(File.ReadLines(f + ".scores.csv"))).ToArray();
        Assert.Equal(rows, expected.Length);
        Assert.Equal(expected, sharded);
        Assert.Equal(File.ReadLines(whole).First(), File.ReadLines(shardFiles[0] + ".scores.csv").First());
    }
}
