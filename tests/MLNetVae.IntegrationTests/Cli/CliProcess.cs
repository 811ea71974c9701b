using System.Diagnostics;
using System.Globalization;
using System.Runtime.InteropServices;
using System.Text;
using MLNetVae.Tests.TestSupport;

namespace MLNetVae.Tests.Cli;

/// <summary>The result of one <c>mlnetvae</c> process.</summary>
public sealed record CliResult(int ExitCode, string Out, string Error)
{
    public override string ToString() => $"exit code {ExitCode}\n--- stdout\n{Out}\n--- stderr\n{Error}";
}

/// <summary>
/// Runs the built CLI (<c>dotnet MLNetVae.Cli.dll ...</c>) as a separate process, as a user would: real argument
/// parsing, real console, real exit code. The test project references the CLI project, so it is built with the tests,
/// in the same configuration.
/// </summary>
internal static class CliProcess
{
    private static readonly Lazy<string> Dll = new(FindDll);

    /// <summary>Runs the CLI to completion (or fails the test after two minutes).</summary>
    public static CliResult Run(params string[] args) => Run(TimeSpan.FromMinutes(2), args);

    /// <summary>Runs the CLI to completion (or fails the test after <paramref name="timeout"/>).</summary>
    public static CliResult Run(TimeSpan timeout, params string[] args) => RunIn(null, timeout, args);

    /// <summary>Runs the CLI with <paramref name="workingDirectory"/> as its current folder (null: the test's).</summary>
    public static CliResult RunIn(string? workingDirectory, TimeSpan timeout, params string[] args) =>
        RunWith(workingDirectory, null, timeout, args);

    /// <summary>Runs the CLI with extra environment variables.</summary>
    public static CliResult RunWith(string? workingDirectory, IReadOnlyDictionary<string, string>? environment, TimeSpan timeout, params string[] args)
    {
        using var process = Start(args, workingDirectory, environment);
        var stdout = process.StandardOutput.ReadToEndAsync();
        var stderr = process.StandardError.ReadToEndAsync();
        if (!process.WaitForExit(timeout))
        {
            process.Kill(entireProcessTree: true);
            Assert.Fail($"mlnetvae {string.Join(' ', args)} did not finish in {timeout.TotalSeconds:0} s");
        }
        process.WaitForExit();
        return new CliResult(process.ExitCode, stdout.Result, stderr.Result);
    }

    /// <summary>
    /// Starts the CLI and sends it SIGINT (what Ctrl+C sends) as soon as a line of its output contains
    /// <paramref name="when"/>; then waits for it to exit.
    /// </summary>
    public static CliResult RunAndInterrupt(string when, TimeSpan timeout, params string[] args)
    {
        using var process = Start(args, interruptible: true);
        var output = new StringBuilder();
        var interrupted = new TaskCompletionSource();
        process.OutputDataReceived += (_, e) =>
        {
            if (e.Data is null)
                return;
            lock (output)
                output.AppendLine(e.Data);
            if (e.Data.Contains(when, StringComparison.Ordinal) && interrupted.TrySetResult() && Kill(process.Id, SigInt) != 0)
                lock (output)
                    output.AppendLine($"(test: kill(SIGINT) failed, errno {Marshal.GetLastPInvokeError()})");
        };
        var stderr = process.StandardError.ReadToEndAsync();
        process.BeginOutputReadLine();
        if (!process.WaitForExit(timeout))
        {
            process.Kill(entireProcessTree: true);
            Assert.Fail($"mlnetvae {string.Join(' ', args)} did not finish in {timeout.TotalSeconds:0} s (interrupted: {interrupted.Task.IsCompleted})\n{output}");
        }
        process.WaitForExit(); // flushes the asynchronous output handlers
        Assert.True(interrupted.Task.IsCompleted, $"'{when}' never appeared in the output:\n{output}\n{stderr.Result}");
        lock (output)
            return new CliResult(process.ExitCode, output.ToString(), stderr.Result);
    }

    private static Process Start(string[] args, string? workingDirectory = null, IReadOnlyDictionary<string, string>? environment = null,
        bool interruptible = false)
    {
        // A test run started in the background of a non-interactive shell (CI scripts, `cmd &`) has SIGINT ignored, and
        // an ignored signal stays ignored in every child, .NET included: the CLI would never see the test's Ctrl+C.
        // Perl (Debian's essential perl-base) restores the default disposition and execs dotnet in the same process.
        var start = new ProcessStartInfo(interruptible ? "perl" : "dotnet")
        {
            WorkingDirectory = workingDirectory ?? Environment.CurrentDirectory,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            RedirectStandardInput = true,
            UseShellExecute = false,
            StandardOutputEncoding = Encoding.UTF8,
            StandardErrorEncoding = Encoding.UTF8,
        };
        if (interruptible)
        {
            foreach (var argument in new[] { "-e", "$SIG{INT} = 'DEFAULT'; exec @ARGV or die \"exec: $!\"", "dotnet" })
                start.ArgumentList.Add(argument);
        }
        start.ArgumentList.Add(Dll.Value);
        foreach (var argument in args)
            start.ArgumentList.Add(argument);
        start.Environment["NO_COLOR"] = "1";
        start.Environment["DOTNET_CLI_TELEMETRY_OPTOUT"] = "1";
        foreach (var (name, value) in environment ?? new Dictionary<string, string>())
            start.Environment[name] = value;
        return Process.Start(start)!;
    }

    /// <summary>
    /// bin/&lt;Configuration&gt;/net10.0/MLNetVae.Cli.dll of the CLI project, in the configuration the tests were built in
    /// (the test assembly lives in tests/MLNetVae.Tests/bin/&lt;Configuration&gt;/net10.0).
    /// </summary>
    private static string FindDll()
    {
        var testOutput = new DirectoryInfo(Path.TrimEndingDirectorySeparator(AppContext.BaseDirectory));
        string framework = testOutput.Name;
        string configuration = testOutput.Parent!.Name;
        var path = Path.Combine(TestData.RepoRoot, "src", "MLNetVae.Cli", "bin", configuration, framework, "MLNetVae.Cli.dll");
        Assert.True(File.Exists(path), $"{path} not found; build the solution first (the test project references the CLI).");
        return path;
    }

    private const int SigInt = 2;

    [DllImport("libc", EntryPoint = "kill", SetLastError = true)]
    private static extern int Kill(int pid, int signal);

    /// <summary>A CSV of numbers with a header, invariant culture.</summary>
    public static void WriteCsv(string path, IReadOnlyList<string> header, IEnumerable<IEnumerable<double>> rows) =>
        File.WriteAllLines(path, rows.Select(r => string.Join(',', r.Select(v => v.ToString("R", CultureInfo.InvariantCulture))))
            .Prepend(string.Join(',', header)));
}
