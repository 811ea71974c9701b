using System.CommandLine;
using System.CommandLine.Invocation;
using System.Globalization;
using MLNetVae.Cli.Commands;
using MLNetVae.Cli.Infrastructure;

namespace MLNetVae.Cli;

/// <summary>The <c>mlnetvae</c> command line: the root command, its global options and one subcommand per file in Commands/.</summary>
internal static class CliApp
{
    /// <summary>Shows the stack trace of an error; every command reads it.</summary>
    public static readonly Option<bool> Verbose = new("--verbose")
    {
        Description = "Show the full exception (stack trace) when a command fails.",
        Recursive = true,
    };

    /// <summary>Parses <paramref name="args"/>, runs the command and returns the process exit code (see <see cref="ExitCodes"/>).</summary>
    public static int Run(string[] args, CliContext context)
    {
        // Numbers on the command line, in data files and in outputs are written with a '.' decimal point whatever the
        // machine's language: System.CommandLine parses option values with the current culture, which on a German
        // machine read "--lr 0.001" as 1.
        CultureInfo.CurrentCulture = CultureInfo.InvariantCulture;
        CultureInfo.DefaultThreadCurrentCulture = CultureInfo.InvariantCulture;
        var parseResult = BuildRootCommand(context).Parse(args);
        int exitCode = parseResult.Invoke(new InvocationConfiguration
        {
            Output = context.Out.Profile.Out.Writer,
            Error = context.Error.Profile.Out.Writer,
            // Commands hook Ctrl+C themselves and stop through the VAE's CancellationToken.
            ProcessTerminationTimeout = null,
        });
        // System.CommandLine exits 1 for a parse error; usage errors are 2 everywhere in this tool.
        return parseResult.Action is ParseErrorAction ? ExitCodes.UsageError : exitCode;
    }

    public static RootCommand BuildRootCommand(CliContext context)
    {
        var root = new RootCommand(
            "mlnetvae: variational autoencoders (MLNetVae) for anomaly detection from the command line: train, score, evaluate, export to ONNX, sample; 'demo' compares with PCA on bundled data.");
        root.Options.Add(Verbose);
        root.Subcommands.Add(DemoCommand.Create(context));
        root.Subcommands.Add(TrainCommand.Create(context));
        root.Subcommands.Add(ScoreCommand.Create(context));
        root.Subcommands.Add(EvaluateCommand.Create(context));
        root.Subcommands.Add(ExportCommand.Create(context));
        root.Subcommands.Add(SampleCommand.Create(context));
        return root;
    }
}
