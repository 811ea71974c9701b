using System.Text.Json;
using static TorchSharp.torch;

namespace MLNetVae.Tests.Infrastructure;

/// <summary>
/// TorchSharp 0.107.0's libLibTorchSharp.so needs GLIBCXX_3.4.32, which Debian 12's libstdc++ lacks.
/// buildTransitive/MLNetVae.targets marks that need weak in the build output (see docs/design.md).
/// These tests prove the output copy loads and computes, is patched, and the NuGet cache copy is not.
/// </summary>
public class TorchSharpLoadTests
{
    private const string LibraryName = "libLibTorchSharp.so";

    [Fact]
    public void TorchSharpLoadsAndComputes()
    {
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
    public void OutputCopyHasGlibcxx3432NeedMarkedWeak()
    {
        string path = FindInOutput();
        ElfVersionNeed need = FindGlibcxx3432Need(path);
        Assert.True(need.IsWeak, $"{path}: GLIBCXX_3.4.32 need is not weak (flags 0x{need.Flags:x}); the MLNetVae.targets patch did not run.");

        // Only the versions newer than Debian 12's libstdc++ are weakened; the rest stay hard needs.
        Assert.All(ElfVersionNeeds.Read(path).Where(n => n.Version is "GLIBCXX_3.4.30" or "GLIBC_2.34"),
            n => Assert.False(n.IsWeak, $"{n.File} {n.Version} should not be weak"));
    }

    [Fact]
    public void NuGetCacheCopyIsNotPatched()
    {
        string path = FindInNuGetCache();
        ElfVersionNeed need = FindGlibcxx3432Need(path);
        Assert.False(need.IsWeak, $"{path}: the NuGet cache copy has its GLIBCXX_3.4.32 need marked weak; the build must only patch its own output copy.");
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
