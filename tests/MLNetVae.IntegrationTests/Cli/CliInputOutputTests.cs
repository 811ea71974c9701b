using MLNetVae.Cli.Infrastructure;

namespace MLNetVae.Tests.Cli;

/// <summary>
/// What the CLI reads and writes, checked before any training: input paths exactly where the user said, data files
/// whose format the reader cannot take, options that cannot work, output targets that cannot be written; and outputs
/// written as a complete set (all old or all new files, whenever Ctrl+C comes).
/// </summary>
public sealed class CliInputOutputTests(TrainedCliModel trained) : IClassFixture<TrainedCliModel>, IDisposable
{
    private readonly string temp = Directory.CreateTempSubdirectory("mlnetvae-cli-io-").FullName;

    public void Dispose() => Directory.Delete(temp, recursive: true);

    private string Temp(string name) => Path.Combine(temp, name);

    private static void AssertUsageError(CliResult run, params string[] fragments)
    {
        Assert.True(run.ExitCode == 2, run.ToString());
        foreach (var fragment in fragments)
            Assert.True(run.Error.Contains(fragment, StringComparison.Ordinal), $"'{fragment}' not in the error output:\n{run.Error}");
        Assert.DoesNotContain("epoch", run.Out); // refused before training started
    }

    [Fact]
    public void ARelativeDataPathIsResolvedAgainstTheCurrentFolderOnly()
    {
        // The repository has a LICENSE; an empty folder does not. Before, the CLI fell back to the repository's.
        string empty = Temp("empty");
        Directory.CreateDirectory(empty);
        var run = CliProcess.RunIn(empty, TimeSpan.FromMinutes(2), "train", "--data", "LICENSE", "-o", "out");
        AssertUsageError(run, "'LICENSE' was not found", Path.Combine(empty, "LICENSE"));
        Assert.False(Directory.Exists(Path.Combine(empty, "out")));
    }

    [Fact]
    public void ASemicolonSeparatedFileOrAQuotedHeaderWithACommaNamesTheCause()
    {
        var lines = File.ReadAllLines(trained.DataPath);
        string semicolons = Temp("semicolons.csv");
        File.WriteAllLines(semicolons, lines.Select(l => l.Replace(',', ';')));
        AssertUsageError(CliProcess.Run("train", "-d", semicolons, "-o", Temp("o1")), "looks semicolon-separated", "comma-separated");

        string quoted = Temp("quoted.csv");
        var header = lines[0].Split(',');
        header[2] = "\"width, cm\"";
        File.WriteAllLines(quoted, lines.Skip(1).Prepend(string.Join(',', header)));
        AssertUsageError(CliProcess.Run("train", "-d", quoted, "-o", Temp("o2")), "quoted column name with a ',' in it", "rename that column");
    }

    [Fact]
    public void OptionsThatCannotWorkAreRefused()
    {
        AssertUsageError(CliProcess.Run("score", "-m", trained.ModelPath, "-d", trained.DataPath, "-o", Temp("s.csv"), "--threshold", "NaN"),
            "--threshold must be a finite number; got NaN");
        AssertUsageError(CliProcess.Run("sample", "-m", trained.ModelPath, "-o", Temp("sample.csv"), "--count", "2000000000"),
            "--count 2000000000 is too large for this model", "exceed the largest array");
        Assert.False(File.Exists(Temp("s.csv")) || File.Exists(Temp("sample.csv")));
    }

    [Fact]
    public void OutputTargetsThatCannotBeWrittenAreRefusedBeforeTraining()
    {
        string file = Temp("a-file.txt");
        File.WriteAllText(file, "not a folder");
        AssertUsageError(CliProcess.Run("train", "-d", trained.DataPath, "-o", Path.Combine(file, "out")), "cannot be created", "is a file");

        string blocked = Temp("blocked");
        Directory.CreateDirectory(Path.Combine(blocked, "model.zip"));
        AssertUsageError(CliProcess.Run("train", "-d", trained.DataPath, "-o", blocked, "--overwrite"), "model.zip", "a folder of that name is in the way");
    }

    [Fact]
    public void WriteAllLeavesAllOldFilesWhenCancelledAndAllNewOnesWhenDone()
    {
        string folder = Temp("set");
        Directory.CreateDirectory(folder);
        foreach (var name in new[] { "a.txt", "b.txt", "c.txt" })
            File.WriteAllText(Path.Combine(folder, name), "old");
        var output = OutputFolder.Prepare(folder, overwrite: true, ["a.txt", "b.txt", "c.txt"]);

        // Ctrl+C after the second file was written: nothing is replaced, and no temporary file is left.
        using var cancellation = new CancellationTokenSource();
        (string, Action<string>) File_(string name, bool cancelAfter) => (name, path =>
        {
            File.WriteAllText(path, "new");
            if (cancelAfter)
                cancellation.Cancel();
        });
        Assert.ThrowsAny<OperationCanceledException>(() =>
            output.WriteAll([File_("a.txt", false), File_("b.txt", true), File_("c.txt", false)], cancellation.Token));
        Assert.All(Directory.GetFiles(folder), f => Assert.Equal("old", File.ReadAllText(f)));
        Assert.Equal(3, Directory.GetFiles(folder).Length);

        // A writer that fails: the same.
        Assert.Throws<IOException>(() => output.WriteAll(
            [File_("a.txt", false), ("b.txt", _ => throw new IOException("disk full")), File_("c.txt", false)], CancellationToken.None));
        Assert.All(Directory.GetFiles(folder), f => Assert.Equal("old", File.ReadAllText(f)));

        output.WriteAll([File_("a.txt", false), File_("b.txt", false), File_("c.txt", false)], CancellationToken.None);
        Assert.All(Directory.GetFiles(folder), f => Assert.Equal("new", File.ReadAllText(f)));
        Assert.Equal(3, Directory.GetFiles(folder).Length);
    }

    [Fact]
    public void AnOutputFileThatAppearsWhileScoringIsNotReplacedWithoutOverwrite()
    {
        // score and sample check --output before their work; a file someone saves there meanwhile must survive.
        string path = OutputFile.Prepare(Temp("scores.csv"), overwrite: false);
        var error = Assert.Throws<CliException>(() => OutputFile.Write(path, overwrite: false, temporary =>
        {
            File.WriteAllText(path, "saved meanwhile");
            File.WriteAllText(temporary, "scores");
        }));
        Assert.Contains("appeared while this command ran; not overwriting", error.Message);
        Assert.Equal("saved meanwhile", File.ReadAllText(path));
        Assert.Equal([path], Directory.GetFiles(temp)); // no partial file left

        OutputFile.Write(path, overwrite: true, temporary => File.WriteAllText(temporary, "scores"));
        Assert.Equal("scores", File.ReadAllText(path));
    }
}
