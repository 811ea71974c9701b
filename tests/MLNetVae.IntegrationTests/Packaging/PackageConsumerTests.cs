using System.Diagnostics;
using System.Globalization;
using System.IO.Compression;
using System.Text;
using System.Text.Json;
using System.Xml.Linq;
using MLNetVae.Tests.Infrastructure;
using MLNetVae.Tests.TestSupport;
using Xunit.Abstractions;

namespace MLNetVae.Tests.Packaging;

/// <summary>
/// Packs src/MLNetVae once for <see cref="PackageConsumerTests"/> into a temporary local feed, with a
/// version no earlier run used (0.1.0-test.&lt;timestamp&gt;.&lt;random&gt;), so a consumer restore can
/// only get this build's package and never a stale MLNetVae from the NuGet global packages folder.
/// </summary>
/// <remarks>
/// The pack runs with <c>--artifacts-path</c> pointing into the temporary folder, so its restore,
/// obj/ and bin/ files go there and not to src/MLNetVae/obj or src/MLNetVae/bin. That keeps it off
/// the outputs of the build that produced this test run, whatever configuration that build used
/// (Debug, or Release from scripts/test.sh): no shared project.assets.json rewritten with another
/// version, no MLNetVae.dll replaced under a running build, nothing left for the next incremental
/// build to trip over. -c Release is what a published package is built with.
/// </remarks>
public sealed class PackedMLNetVae : IDisposable
{
    public PackedMLNetVae()
    {
        string stamp = DateTime.UtcNow.ToString("yyyyMMddHHmmss", CultureInfo.InvariantCulture);
        // The "g" keeps the last identifier alphanumeric (a numeric one may not start with 0).
        Version = $"0.1.0-test.{stamp}.g{Guid.NewGuid().ToString("N")[..12]}";
        Root = Directory.CreateTempSubdirectory("mlnetvae-pack-").FullName;
        Feed = Path.Combine(Root, "feed");

        Pack = Dotnet.Run(TestData.RepoRoot, TimeSpan.FromMinutes(5),
            "pack", Path.Combine(TestData.RepoRoot, "src", "MLNetVae", "MLNetVae.csproj"),
            "-c", "Release",
            "-o", Feed,
            "--artifacts-path", Path.Combine(Root, "artifacts"),
            $"-p:Version={Version}");
        PackagePath = Path.Combine(Feed, $"MLNetVae.{Version}.nupkg");
    }

    /// <summary>The unique package version of this run.</summary>
    public string Version { get; }

    /// <summary>Temporary folder holding the feed, the pack's artifacts and the consumer app.</summary>
    public string Root { get; }

    /// <summary>Local folder feed with the one package.</summary>
    public string Feed { get; }

    public string PackagePath { get; }

    public ProcessResult Pack { get; }

    /// <summary>Fails the calling test with the pack's output unless the pack made the package.</summary>
    public void AssertPacked()
    {
        Assert.True(Pack.ExitCode == 0 && File.Exists(PackagePath),
            $"dotnet pack failed or made no {PackagePath}.\n{Pack}");
    }

    public void Dispose()
    {
        try { Directory.Delete(Root, recursive: true); }
        catch (IOException) { }
        catch (UnauthorizedAccessException) { }
    }
}

/// <summary>
/// The NuGet package as a user gets it: its contents and metadata, and a console app outside the repo
/// that references the package (not the project), trains, scores and loads TorchSharp.
/// </summary>
public class PackageConsumerTests : IClassFixture<PackedMLNetVae>
{
    private const string TargetFramework = "net10.0";
    private const string AppName = "MyApp";

    /// <summary>Managed dependencies the package must declare. The native backends are the application's choice.</summary>
    private static readonly string[] ExpectedDependencies =
        { "Microsoft.ML", "Microsoft.ML.OnnxTransformer", "TorchSharp", "Microsoft.ML.OnnxRuntime.Managed", "OnnxSharp", "Google.Protobuf", "System.IO.Hashing" };

    private readonly PackedMLNetVae _package;
    private readonly ITestOutputHelper _output;

    public PackageConsumerTests(PackedMLNetVae package, ITestOutputHelper output)
    {
        _package = package;
        _output = output;
    }

    [Fact]
    public void PackageHasMetadataDependenciesDocsAndNoBuildSteps()
    {
        _package.AssertPacked();
        using ZipArchive zip = ZipFile.OpenRead(_package.PackagePath);
        string[] entries = zip.Entries.Select(e => e.FullName).ToArray();
        _output.WriteLine("Package entries:\n  " + string.Join("\n  ", entries));

        foreach (string expected in new[]
                 {
                     "MLNetVae.nuspec", "README.md", "LICENSE",
                     $"lib/{TargetFramework}/MLNetVae.dll", $"lib/{TargetFramework}/MLNetVae.xml",
                 })
        {
            Assert.Contains(expected, entries);
        }
        Assert.DoesNotContain(entries, e => e.StartsWith("runtimes/", StringComparison.OrdinalIgnoreCase));
        // No build step reaches a consumer: the TorchSharp load fix runs in the library (no build/ or buildTransitive/).
        Assert.DoesNotContain(entries, e => e.StartsWith("build", StringComparison.OrdinalIgnoreCase));
        Assert.Equal(new[] { $"lib/{TargetFramework}/MLNetVae.dll", $"lib/{TargetFramework}/MLNetVae.xml" },
            entries.Where(e => e.StartsWith("lib/", StringComparison.Ordinal)).Order(StringComparer.Ordinal));

        // The README NuGet shows is PACKAGE.md, which starts with the repo README's install section, word for word.
        byte[] packageReadme = File.ReadAllBytes(Path.Combine(TestData.RepoRoot, "src", "MLNetVae", "PACKAGE.md"));
        Assert.Equal(packageReadme, ReadEntry(zip, "README.md"));
        string installSection = ReadmeInstall.Section(File.ReadAllText(Path.Combine(TestData.RepoRoot, "README.md")));
        string packageText = Encoding.UTF8.GetString(packageReadme);
        Assert.Equal(installSection, ReadmeInstall.Section(packageText));
        Assert.True(packageText.IndexOf("\n## ", StringComparison.Ordinal) == packageText.IndexOf("\n## Install in your own app", StringComparison.Ordinal),
            "PACKAGE.md's first section must be the install section.");
        Assert.Equal(File.ReadAllBytes(Path.Combine(TestData.RepoRoot, "LICENSE")), ReadEntry(zip, "LICENSE"));

        // XML documentation for IntelliSense.
        XDocument docs = XDocument.Load(new MemoryStream(ReadEntry(zip, $"lib/{TargetFramework}/MLNetVae.xml")));
        string[] members = docs.Descendants("member").Select(m => (string)m.Attribute("name")!).ToArray();
        Assert.Contains("T:MLNetVae.VaeOptions", members);
        Assert.Contains(members, m => m.StartsWith("M:Microsoft.ML.", StringComparison.Ordinal) && m.Contains("VariationalAutoencoder"));

        XElement metadata = XDocument.Load(new MemoryStream(ReadEntry(zip, "MLNetVae.nuspec"))).Root!.Elements().Single(e => e.Name.LocalName == "metadata");
        string Meta(string name) => metadata.Elements().SingleOrDefault(e => e.Name.LocalName == name)?.Value ?? "";
        Assert.Equal("MLNetVae", Meta("id"));
        Assert.Equal(_package.Version, Meta("version"));
        Assert.False(string.IsNullOrWhiteSpace(Meta("authors")));
        Assert.Contains("variational autoencoder", Meta("description"), StringComparison.OrdinalIgnoreCase);
        Assert.Equal("README.md", Meta("readme"));
        XElement license = metadata.Elements().Single(e => e.Name.LocalName == "license");
        Assert.Equal("expression", (string?)license.Attribute("type"));
        Assert.Equal("MIT", license.Value);
        Assert.Contains("ml.net", Meta("tags").Split(' '));

        XElement[] groups = metadata.Descendants().Where(e => e.Name.LocalName == "group").ToArray();
        XElement group = Assert.Single(groups);
        Assert.Equal(TargetFramework, (string?)group.Attribute("targetFramework"));
        var dependencies = group.Elements().ToDictionary(d => (string)d.Attribute("id")!, d => (string)d.Attribute("version")!);
        Assert.Equal(ExpectedDependencies.Order(StringComparer.Ordinal), dependencies.Keys.Order(StringComparer.Ordinal));
        Assert.Equal(RepoProperty("MicrosoftMLVersion"), dependencies["Microsoft.ML"]);
        Assert.Equal(RepoProperty("MicrosoftMLVersion"), dependencies["Microsoft.ML.OnnxTransformer"]);
        Assert.Equal(RepoProperty("TorchSharpVersion"), dependencies["TorchSharp"]);
        Assert.Equal(RepoProperty("OnnxRuntimeManagedVersion"), dependencies["Microsoft.ML.OnnxRuntime.Managed"]);
        Assert.Equal(RepoProperty("OnnxSharpVersion"), dependencies["OnnxSharp"]);
        Assert.Equal(RepoProperty("GoogleProtobufVersion"), dependencies["Google.Protobuf"]);
    }

    [Fact]
    public void TheReadmesInstallStepsAndProgramWorkAgainstThePackage()
    {
        _package.AssertPacked();
        var readme = ReadmeInstall.Parse(File.ReadAllText(Path.Combine(TestData.RepoRoot, "README.md")));
        string app = Path.Combine(_package.Root, "MyApp");
        Assert.False(IsUnder(app, TestData.RepoRoot),
            $"The consumer app folder {app} is inside the repo {TestData.RepoRoot}; point TMPDIR outside it.");
        Directory.CreateDirectory(app);
        // Stop MSBuild's walk up the folder tree (Directory.Build.*, central package management): the app must see
        // nothing from the repo or from whatever lies above the temp folder. The feed is added as a source, as the
        // README says; the machine's sources stay for everything else.
        foreach (string file in new[] { "Directory.Build.props", "Directory.Build.targets", "Directory.Packages.props" })
            File.WriteAllText(Path.Combine(app, file), "<Project />\n");
        File.WriteAllText(Path.Combine(app, "nuget.config"), $"""
            <?xml version="1.0" encoding="utf-8"?>
            <configuration>
              <packageSources>
                <add key="mlnetvae" value="{_package.Feed}" />
              </packageSources>
            </configuration>
            """);
        string? globalPackages = null;
        try
        {
            // The README's commands, as written (MLNetVae at this run's version; --no-restore: the build restores once).
            ProcessResult created = Dotnet.Run(app, TimeSpan.FromMinutes(2), "new", "console", "-n", AppName, "-o", ".", "--no-restore");
            Assert.True(created.ExitCode == 0, created.ToString());
            Assert.Equal(["MLNetVae", "libtorch-cpu-linux-x64", "Microsoft.ML.OnnxRuntime"], readme.Packages.Select(p => p.Id));
            foreach (var (id, version) in readme.Packages)
            {
                ProcessResult added = Dotnet.Run(app, TimeSpan.FromMinutes(2), "add", "package", id, "--version", id == "MLNetVae" ? _package.Version : version, "--no-restore");
                Assert.True(added.ExitCode == 0, added.ToString());
            }
            File.WriteAllText(Path.Combine(app, "Program.cs"), readme.Program);

            ProcessResult build = Dotnet.Run(app, TimeSpan.FromMinutes(5), "build", $"{AppName}.csproj", "-c", "Release");
            _output.WriteLine($"dotnet build: exit {build.ExitCode} in {build.Elapsed.TotalSeconds:F0} s");
            Assert.True(build.ExitCode == 0, $"The README's program did not build against MLNetVae {_package.Version}.\n{build}");

            // Restore took MLNetVae from the package (this run's version), not from a project.
            using (JsonDocument assets = JsonDocument.Parse(File.ReadAllText(Path.Combine(app, "obj", "project.assets.json"))))
            {
                globalPackages = assets.RootElement.GetProperty("packageFolders").EnumerateObject().First().Name;
                Assert.True(assets.RootElement.GetProperty("libraries").TryGetProperty($"MLNetVae/{_package.Version}", out JsonElement library),
                    $"project.assets.json has no MLNetVae/{_package.Version}:\n{build}");
                Assert.Equal("package", library.GetProperty("type").GetString());
            }
            string outDir = Path.Combine(app, "bin", "Release", TargetFramework);
            using (ZipArchive zip = ZipFile.OpenRead(_package.PackagePath))
            {
                Assert.True(ReadEntry(zip, $"lib/{TargetFramework}/MLNetVae.dll").AsSpan().SequenceEqual(File.ReadAllBytes(Path.Combine(outDir, "MLNetVae.dll"))),
                    "The consumer's MLNetVae.dll is not the one in the package.");
            }

            // Nothing patched the app's libLibTorchSharp.so at build time: the library makes it load at run time.
            string lib = new[] { Path.Combine(outDir, "runtimes", "linux-x64", "native", "libLibTorchSharp.so"), Path.Combine(outDir, "libLibTorchSharp.so") }.First(File.Exists);
            Assert.False(ElfVersionNeeds.Read(lib).Single(n => n.File == "libstdc++.so.6" && n.Version == "GLIBCXX_3.4.32").IsWeak,
                $"{lib} was patched by the build; no build step should run in a consumer any more");

            ProcessResult run = Dotnet.Run(app, TimeSpan.FromMinutes(5), Path.Combine(outDir, $"{AppName}.dll"));
            _output.WriteLine($"README program: exit {run.ExitCode} in {run.Elapsed.TotalSeconds:F0} s\n{run.Output}");
            Assert.True(run.ExitCode == 0, $"The README's program failed.\n{run}");

            // It prints what the README says it prints: the same decisions, scores rising with the shift. The numbers
            // themselves may differ in the last digit on another machine (thread count).
            var printed = ReadmeInstall.ScoreLines(run.Output);
            var documented = ReadmeInstall.ScoreLines(readme.Output);
            Assert.Equal(3, documented.Count);
            Assert.Equal(documented.Select(l => (l.Shift, l.Anomaly)), printed.Select(l => (l.Shift, l.Anomaly)));
            Assert.True(printed.Zip(printed.Skip(1)).All(p => p.First.Score < p.Second.Score), run.Output);
            for (int i = 0; i < printed.Count; i++)
                Assert.True(Math.Abs(printed[i].Score - documented[i].Score) <= 0.05 * documented[i].Score,
                    $"line {i}: printed score {printed[i].Score}, the README says {documented[i].Score}");
        }
        finally
        {
            // This run's version is in the global packages folder now; nothing else will ever use it.
            if (globalPackages is not null)
            {
                string extracted = Path.Combine(globalPackages, "mlnetvae", _package.Version.ToLowerInvariant());
                try { if (Directory.Exists(extracted)) Directory.Delete(extracted, recursive: true); }
                catch (IOException) { }
                catch (UnauthorizedAccessException) { }
            }
        }
    }

    /// <summary>A version property of the repo's Directory.Build.props, so the app uses the versions the repo tests with.</summary>
    private static string RepoProperty(string name)
    {
        XDocument props = XDocument.Load(Path.Combine(TestData.RepoRoot, "Directory.Packages.props"));
        string? value = props.Descendants().FirstOrDefault(e => e.Name.LocalName == name)?.Value.Trim();
        Assert.False(string.IsNullOrEmpty(value), $"Directory.Packages.props has no {name}");
        return value!;
    }

    private static byte[] ReadEntry(ZipArchive zip, string name)
    {
        ZipArchiveEntry? entry = zip.GetEntry(name);
        Assert.True(entry is not null, $"The package has no {name}");
        using Stream s = entry!.Open();
        using var copy = new MemoryStream();
        s.CopyTo(copy);
        return copy.ToArray();
    }

    private static bool IsUnder(string path, string directory)
    {
        string full = Path.GetFullPath(path).TrimEnd(Path.DirectorySeparatorChar) + Path.DirectorySeparatorChar;
        string dir = Path.GetFullPath(directory).TrimEnd(Path.DirectorySeparatorChar) + Path.DirectorySeparatorChar;
        return full.StartsWith(dir, StringComparison.Ordinal);
    }
}

/// <summary>Exit code, interleaved stdout/stderr and duration of a finished (or killed) process.</summary>
public sealed record ProcessResult(string CommandLine, int ExitCode, string Output, TimeSpan Elapsed, bool TimedOut)
{
    private const int MaxOutputInMessage = 40_000;

    public override string ToString()
    {
        string output = Output.Length <= MaxOutputInMessage
            ? Output
            : $"[... first {Output.Length - MaxOutputInMessage} characters left out ...]\n" + Output[^MaxOutputInMessage..];
        string status = TimedOut ? $"timed out after {Elapsed.TotalSeconds:F0} s and was killed" : $"exit code {ExitCode} after {Elapsed.TotalSeconds:F0} s";
        return $"$ {CommandLine}\n{status}\n--- output ---\n{output}--- end of output ---";
    }
}

/// <summary>Runs the dotnet CLI from inside a test.</summary>
internal static class Dotnet
{
    /// <summary>
    /// Runs <c>dotnet</c> with <paramref name="args"/> (passed through <see cref="ProcessStartInfo.ArgumentList"/>, no shell).
    /// Build commands get <c>--disable-build-servers</c> and <c>-nodeReuse:false</c>: a build server or MSBuild node
    /// that outlives the command would keep the output pipes open and leave processes behind the test.
    /// </summary>
    public static ProcessResult Run(string workingDirectory, TimeSpan timeout, params string[] args)
    {
        var psi = new ProcessStartInfo(DotnetPath())
        {
            WorkingDirectory = workingDirectory,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        foreach (string arg in args)
            psi.ArgumentList.Add(arg);
        if (args.Length > 0 && args[0] is "build" or "pack" or "publish" or "restore" or "run")
        {
            psi.ArgumentList.Add("--disable-build-servers");
            psi.ArgumentList.Add("-nodeReuse:false");
        }

        // The test host inherits MSBuild settings from the `dotnet test` that started it (MSBuildSDKsPath,
        // MSBUILD_EXE_PATH, ...); a child dotnet must pick its own.
        foreach (string key in psi.Environment.Keys.Where(k => k.StartsWith("MSBuild", StringComparison.OrdinalIgnoreCase)).ToList())
            psi.Environment.Remove(key);
        psi.Environment["MSBUILDDISABLENODEREUSE"] = "1";
        psi.Environment["DOTNET_CLI_TELEMETRY_OPTOUT"] = "1";
        psi.Environment["DOTNET_NOLOGO"] = "1";
        psi.Environment["DOTNET_SKIP_FIRST_TIME_EXPERIENCE"] = "1";

        string commandLine = string.Join(' ', new[] { psi.FileName }.Concat(psi.ArgumentList).Select(Quote));
        var output = new StringBuilder();
        void Append(string? line)
        {
            if (line is null) return;
            lock (output) output.AppendLine(line);
        }

        var stopwatch = Stopwatch.StartNew();
        using var process = new Process { StartInfo = psi };
        process.OutputDataReceived += (_, e) => Append(e.Data);
        process.ErrorDataReceived += (_, e) => Append(e.Data);
        process.Start();
        process.BeginOutputReadLine();
        process.BeginErrorReadLine();

        bool timedOut = false;
        using (var cts = new CancellationTokenSource(timeout))
        {
            try
            {
                // Waits for the exit and for the end of both output streams.
                process.WaitForExitAsync(cts.Token).GetAwaiter().GetResult();
            }
            catch (OperationCanceledException)
            {
                timedOut = true;
                try { process.Kill(entireProcessTree: true); }
                catch (InvalidOperationException) { }
                process.WaitForExit(TimeSpan.FromSeconds(30));
            }
        }
        stopwatch.Stop();

        string text;
        lock (output) text = output.ToString();
        int exitCode = process.HasExited ? process.ExitCode : -1;
        return new ProcessResult(commandLine, timedOut ? -1 : exitCode, text, stopwatch.Elapsed, timedOut);
    }

    private static string DotnetPath()
    {
        // Set by the SDK for the processes it starts (the test host among them): the dotnet running this build.
        string? host = Environment.GetEnvironmentVariable("DOTNET_HOST_PATH");
        if (!string.IsNullOrEmpty(host) && File.Exists(host))
            return host;
        string? self = Environment.ProcessPath;
        if (self is not null && Path.GetFileNameWithoutExtension(self) == "dotnet")
            return self;
        return "dotnet";
    }

    private static string Quote(string arg) =>
        arg.Length > 0 && arg.All(c => char.IsLetterOrDigit(c) || "-_./:=+,@[]".Contains(c)) ? arg : "'" + arg.Replace("'", "'\\''") + "'";
}
