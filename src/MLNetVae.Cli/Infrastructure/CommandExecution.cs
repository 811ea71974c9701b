using Spectre.Console;

namespace MLNetVae.Cli.Infrastructure;

/// <summary>
/// Runs a command body with the shared behaviour of every command: Ctrl+C cancels through a
/// <see cref="CancellationToken"/>, and exceptions become one readable red line, a hint and an exit code.
/// </summary>
internal static class CommandExecution
{
    public static int Run(CliContext context, bool verbose, Func<CancellationToken, int> body)
    {
        using var cancellation = CancellationTokenSource.CreateLinkedTokenSource(context.CancellationToken);
        ConsoleCancelEventHandler onCancelKey = (_, e) =>
        {
            // First Ctrl+C: stop cleanly at the next batch. A second one while we are still stopping: let the process die,
            // except while output files are being moved into place (HoldOffCtrlC), which takes milliseconds.
            e.Cancel = !cancellation.IsCancellationRequested || Volatile.Read(ref holdOffs) > 0;
            cancellation.Cancel();
        };
        if (context.HandleCtrlC)
            Console.CancelKeyPress += onCancelKey;
        try
        {
            return body(cancellation.Token);
        }
        catch (OperationCanceledException) when (cancellation.IsCancellationRequested)
        {
            context.Error.MarkupLine("[yellow]Cancelled[/] (Ctrl+C).");
            return ExitCodes.Cancelled;
        }
        catch (Exception e)
        {
            var (message, hint, code) = Describe(e);
            context.Error.MarkupLineInterpolated($"[red]error:[/] {message}");
            if (hint is not null)
                context.Error.MarkupLineInterpolated($"[grey]hint:[/] {hint}");
            if (verbose)
                context.Error.WriteException(e);
            return code;
        }
        finally
        {
            if (context.HandleCtrlC)
                Console.CancelKeyPress -= onCancelKey;
        }
    }

    private static int holdOffs;

    /// <summary>Until disposed, Ctrl+C does not end the process (the files being moved into place stay a complete set).</summary>
    public static IDisposable HoldOffCtrlC()
    {
        Interlocked.Increment(ref holdOffs);
        return new HoldOff();
    }

    private sealed class HoldOff : IDisposable
    {
        private int disposed;

        public void Dispose()
        {
            if (Interlocked.Exchange(ref disposed, 1) == 0)
                Interlocked.Decrement(ref holdOffs);
        }
    }

    /// <summary>
    /// The exception to describe: a <see cref="CliException"/> thrown inside a data source's cursor (a damaged Parquet row
    /// group, say) reaches the command wrapped by ML.NET's parallel cursors in an InvalidOperationException; its own
    /// message is the one that says what is wrong.
    /// </summary>
    private static Exception Unwrap(Exception e)
    {
        for (var inner = e; inner is not null; inner = inner.InnerException)
            if (inner is CliException)
                return inner;
        return e;
    }

    private static (string Message, string? Hint, int ExitCode) Describe(Exception e) => Unwrap(e) switch
    {
        CliException cli => (cli.Message, cli.Hint, cli.ExitCode),
        VaeTrainingDivergedException diverged => (diverged.Message, DivergenceHint(diverged), ExitCodes.Failure),
        // The library validates options and data with ArgumentException (the message names the option or row).
        ArgumentException argument => (OneLine(argument), "Check the options and the data file; --verbose shows the details.", ExitCodes.UsageError),
        FileNotFoundException missing => (missing.Message, "Check the path.", ExitCodes.UsageError),
        DirectoryNotFoundException missing => (missing.Message, "Check the path.", ExitCodes.UsageError),
        UnauthorizedAccessException denied => (denied.Message, "Check the permissions of the file or folder it names (an input must be readable, an output folder writable).", ExitCodes.Failure),
        IOException io => (io.Message, null, ExitCodes.Failure),
        _ => ($"{e.GetType().Name}: {e.Message}", "Run again with --verbose for the stack trace.", ExitCodes.Failure),
    };

    private static string DivergenceHint(VaeTrainingDivergedException e) => e.SuspectedOption switch
    {
        nameof(VaeOptions.Beta) => "Try a smaller --beta; --verbose shows where it happened.",
        nameof(VaeOptions.Standardize) => "Leave out --no-standardize; --verbose shows where it happened.",
        _ => "Try a smaller --learning-rate; --verbose shows where it happened.",
    };

    /// <summary>An ArgumentException's message without the " (Parameter 'x')" and "Actual value was" lines .NET appends.</summary>
    private static string OneLine(ArgumentException e)
    {
        string message = e.Message.Split('\n')[0].TrimEnd();
        string suffix = $" (Parameter '{e.ParamName}')";
        return e.ParamName is not null && message.EndsWith(suffix, StringComparison.Ordinal) ? message[..^suffix.Length] : message;
    }
}
