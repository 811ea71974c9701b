namespace MLNetVae.Cli.Infrastructure;

/// <summary>Process exit codes of <c>mlnetvae</c>.</summary>
internal static class ExitCodes
{
    /// <summary>The command did its job.</summary>
    public const int Success = 0;

    /// <summary>Something failed while running (training diverged, an I/O error, a bug).</summary>
    public const int Failure = 1;

    /// <summary>The command line or its input is wrong: bad option, missing or malformed data file, refused overwrite.</summary>
    public const int UsageError = 2;

    /// <summary>Cancelled with Ctrl+C (128 + SIGINT, as shells report it).</summary>
    public const int Cancelled = 130;
}
