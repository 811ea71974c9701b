using Spectre.Console;

namespace MLNetVae.Cli;

/// <summary>
/// Where a command writes and what can stop it. <see cref="ForConsole"/> is the real terminal; tests pass their own
/// consoles (captured text) and a cancellation token instead of pressing Ctrl+C.
/// </summary>
/// <param name="Out">Normal output: progress, tables, result paths.</param>
/// <param name="Error">Error lines and hints (stderr for the real console).</param>
/// <param name="CancellationToken">Cancels the command as Ctrl+C would.</param>
/// <param name="HandleCtrlC">Whether commands hook <see cref="Console.CancelKeyPress"/> while they run.</param>
internal sealed record CliContext(IAnsiConsole Out, IAnsiConsole Error, CancellationToken CancellationToken = default, bool HandleCtrlC = true)
{
    /// <summary>The process's console: stdout for output, stderr for errors, Ctrl+C cancels.</summary>
    public static CliContext ForConsole() => new(
        AnsiConsole.Console,
        AnsiConsole.Create(new AnsiConsoleSettings { Out = new AnsiConsoleOutput(Console.Error) }));
}
