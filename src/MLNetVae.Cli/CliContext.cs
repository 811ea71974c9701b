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
    public static CliContext ForConsole()
    {
        var output = AnsiConsole.Console;
        var error = AnsiConsole.Create(new AnsiConsoleSettings { Out = new AnsiConsoleOutput(Console.Error) });
        // Redirected to a file or a pipe, Spectre wraps at 80 columns; logs read better with one message per line.
        if (Console.IsOutputRedirected)
            output.Profile.Width = RedirectedWidth;
        if (Console.IsErrorRedirected)
            error.Profile.Width = RedirectedWidth;
        return new CliContext(output, error);
    }

    private const int RedirectedWidth = 400;
}
