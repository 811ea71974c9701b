using System.Text.Json;
using MLNetVae.Training.Native;
using static TorchSharp.torch;

namespace MLNetVae.Tests.Infrastructure;

/// <summary>
/// TorchSharp 0.107.0's libLibTorchSharp.so needs GLIBCXX_3.4.32, which Debian 12's libstdc++ lacks. The library makes
/// it load at run time (Training/Native/LibTorchSharpLoader: a copy with that need marked weak in a per-user cache
/// folder), with no build step. These tests prove TorchSharp loads and computes, what the loader did on this machine,
/// and that neither the build output nor the NuGet cache copy was touched.
/// </summary>
public class TorchSharpLoadTests
{
    private const string LibraryName = "libLibTorchSharp.so";

    [Fact]
    public void TorchSharpLoadsAndComputes()
    {
        LibTorchSharpLoader.EnsureLoadable();
        using var scope = NewDisposeScope();

        // [[1,2],[3,4]] x [[5,6],[7,8]] = [[19,22],[43,50]]
        Tensor a = tensor(new float[] { 1, 2, 3, 4 }, new long[] { 2, 2 });
        Tensor b = tensor(new float[] { 5, 6, 7, 8 }, new long[] { 2, 2 });
        Assert.Equal(new float[] { 19, 22, 43, 50 }, a.matmul(b).data<float>().ToArray());

        // d/dx sum(x^2 + 3x) = 2x + 3
        Tensor x = tensor(new float[] { -1, 0, 2.5f }, requires_grad: true);
        (x * x + 3 * x).sum().backward();
        Assert.NotNull(x.grad);
        Assert.Equal(new float[] { 1, 3, 8 }, x.grad!.data<float>().ToArray());
    }

    [Fact]
    public void OnASystemWithoutGlibcxx3432ThePatchedCopyComesFromTheCacheAndTheShippedFilesAreUntouched()
    {
        LibTorchSharpLoader.EnsureLoadable();
        bool systemHasIt = SystemLibStdCxxVersions().Contains("GLIBCXX_3.4.32");
        if (systemHasIt)
        {
            Assert.Null(LibTorchSharpLoader.PatchedCopy);
            Assert.Contains("loads as shipped", LibTorchSharpLoader.Outcome);
        }
        else
        {
            // Debian 12 (this project's machines): the loader wrote and loaded a weakened copy in the cache folder.
            string copy = LibTorchSharpLoader.PatchedCopy ?? throw new Xunit.Sdk.XunitException($"No patched copy; outcome: {LibTorchSharpLoader.Outcome}");
            Assert.True(FindGlibcxx3432Need(copy).IsWeak, $"{copy}: the GLIBCXX_3.4.32 need is not weak");
            Assert.All(ElfVersionNeeds.Read(copy).Where(n => n.Version is "GLIBCXX_3.4.30" or "GLIBC_2.34"),
                n => Assert.False(n.IsWeak, $"{n.File} {n.Version} should not be weak"));
            Assert.Contains(LibTorchSharpLoader.CacheFolders(), folder => copy.StartsWith(folder, StringComparison.Ordinal));
        }

        // The app folder's and the NuGet cache's files are as shipped.
        Assert.False(FindGlibcxx3432Need(FindInOutput()).IsWeak, "the build output's copy was patched; nothing may patch it any more");
        Assert.False(FindGlibcxx3432Need(FindInNuGetCache()).IsWeak, "the NuGet cache copy was patched");
    }

    [Fact]
    public void WithoutAWritableCacheFolderTheErrorNamesTheCauseAndTheFix()
    {
        if (SystemLibStdCxxVersions().Contains("GLIBCXX_3.4.32"))
            return; // the fix is not needed on this system: nothing to refuse
        // A cache folder below a regular file cannot be created, not even by root (permissions would not stop root).
        string folder = Directory.CreateTempSubdirectory("mlnetvae-no-cache-").FullName;
        try
        {
            string blocker = Path.Combine(folder, "a-file");
            File.WriteAllText(blocker, "");
            string data = Path.Combine(folder, "data.csv");
            Cli.CliProcess.WriteCsv(data, ["Label", "a", "b"], Enumerable.Range(0, 200).Select(i => new double[] { 0, i, i % 7 }));
            var run = Cli.CliProcess.RunWith(null, new Dictionary<string, string> { [LibTorchSharpLoader.CacheVariable] = Path.Combine(blocker, "cache") },
                TimeSpan.FromMinutes(2), "train", "-d", data, "-o", Path.Combine(folder, "out"), "--epochs", "1");
            Assert.NotEqual(0, run.ExitCode);
            Assert.Contains("GLIBCXX_3.4.32", run.Out + run.Error);
            Assert.Contains(LibTorchSharpLoader.CacheVariable, run.Out + run.Error);
            Assert.DoesNotContain("   at ", run.Error);
        }
        finally
        {
            Directory.Delete(folder, recursive: true);
        }
    }

    /// <summary>The version definitions of the system's libstdc++.so.6 (what a weak need is checked against).</summary>
    private static HashSet<string> SystemLibStdCxxVersions()
    {
        string path = new[] { "/lib/x86_64-linux-gnu/libstdc++.so.6", "/usr/lib/x86_64-linux-gnu/libstdc++.so.6", "/usr/lib64/libstdc++.so.6" }.First(File.Exists);
        // Version names are plain strings in .gnu.version_d; a substring search is enough to tell 3.4.32 is defined.
        string text = System.Text.Encoding.ASCII.GetString(File.ReadAllBytes(path));
        return System.Text.RegularExpressions.Regex.Matches(text, @"GLIBCXX_3\.4\.\d+").Select(m => m.Value).ToHashSet();
    }

    private static ElfVersionNeed FindGlibcxx3432Need(string path)
    {
        ElfVersionNeed? need = ElfVersionNeeds.Read(path).SingleOrDefault(n => n.File == "libstdc++.so.6" && n.Version == "GLIBCXX_3.4.32");
        Assert.True(need is not null, $"{path}: no libstdc++.so.6 GLIBCXX_3.4.32 version need; has the TorchSharp version changed?");
        return need!;
    }

    private static string FindInOutput()
    {
        string baseDir = AppContext.BaseDirectory;
        string[] candidates =
        {
            Path.Combine(baseDir, "runtimes", "linux-x64", "native", LibraryName),
            Path.Combine(baseDir, LibraryName),
        };
        string? found = candidates.FirstOrDefault(File.Exists);
        Assert.True(found is not null, $"{LibraryName} not found next to the test assembly; looked at: {string.Join(", ", candidates)}");
        return found!;
    }

    private static string FindInNuGetCache()
    {
        // The package folder ("torchsharp/0.107.0") comes from the deps.json the SDK wrote next to the tests.
        string depsJson = Path.Combine(AppContext.BaseDirectory, typeof(TorchSharpLoadTests).Assembly.GetName().Name + ".deps.json");
        using JsonDocument deps = JsonDocument.Parse(File.ReadAllText(depsJson));
        string? packagePath = deps.RootElement.GetProperty("libraries").EnumerateObject()
            .Where(l => l.Name.StartsWith("TorchSharp/", StringComparison.Ordinal))
            .Select(l => l.Value.TryGetProperty("path", out JsonElement p) ? p.GetString() : null)
            .FirstOrDefault();
        Assert.True(packagePath is not null, $"{depsJson} lists no TorchSharp package path");

        string? root = Environment.GetEnvironmentVariable("NUGET_PACKAGES");
        if (string.IsNullOrEmpty(root))
            root = Path.Combine(Environment.GetFolderPath(Environment.SpecialFolder.UserProfile), ".nuget", "packages");
        string path = Path.Combine(root, packagePath!, "runtimes", "linux-x64", "native", LibraryName);
        Assert.True(File.Exists(path),
            $"NuGet cache copy of {LibraryName} not found at {path}; set NUGET_PACKAGES to the global packages folder used by restore.");
        return path;
    }
}
