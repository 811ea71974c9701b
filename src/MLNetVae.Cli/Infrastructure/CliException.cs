namespace MLNetVae.Cli.Infrastructure;

/// <summary>
/// An error the user can act on: shown as one red line plus a hint, without a stack trace (unless <c>--verbose</c>).
/// </summary>
internal sealed class CliException : Exception
{
    public CliException(string message, string? hint = null, int exitCode = ExitCodes.UsageError, Exception? inner = null)
        : base(message, inner)
    {
        Hint = hint;
        ExitCode = exitCode;
    }

    /// <summary>What to do about it, or <see langword="null"/>.</summary>
    public string? Hint { get; }

    /// <summary>The process exit code: <see cref="ExitCodes.UsageError"/> by default.</summary>
    public int ExitCode { get; }
}
