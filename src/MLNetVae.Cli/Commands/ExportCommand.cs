using System.CommandLine;
using Microsoft.ML;
using MLNetVae.Cli.Infrastructure;
using MLNetVae.Cli.Modeling;
using MLNetVae.Cli.Output;
using Spectre.Console;

namespace MLNetVae.Cli.Commands;

/// <summary>
/// <c>mlnetvae export</c>: writes the encoder and decoder of a saved model as two standalone ONNX files
/// (<c>LoadVaeTransformer</c> + <c>ExportOnnx</c>), for use outside ML.NET.
/// </summary>
internal static class ExportCommand
{
    public const string EncoderFile = "encoder.onnx";
    public const string DecoderFile = "decoder.onnx";
    public static readonly IReadOnlyList<string> OutputFiles = [EncoderFile, DecoderFile];

    internal sealed record Settings(string ModelPath, string OutputPath, bool Overwrite);

    public static Command Create(CliContext context)
    {
        var model = CommonOptions.Model();
        var output = CommonOptions.OutputFolder("Folder for encoder.onnx and decoder.onnx (created if needed).");
        var overwrite = CommonOptions.Overwrite();
        var command = new Command("export", "Export the encoder and decoder of a trained model as standalone ONNX files (standardization folded in).")
        {
            model, output, overwrite,
        };
        command.SetAction(parseResult => CommandExecution.Run(context, parseResult.GetValue(CliApp.Verbose), _ =>
            Execute(context, new Settings(parseResult.GetValue(model)!, parseResult.GetValue(output)!, parseResult.GetValue(overwrite)))));
        return command;
    }

    internal static int Execute(CliContext context, Settings settings)
    {
        var output = OutputFolder.Prepare(settings.OutputPath, settings.Overwrite, OutputFiles);
        var ml = new MLContext(seed: 1);
        using var vae = ModelFile.LoadVae(ml, settings.ModelPath);
        var onnx = OnnxPair.Of(vae);
        output.WriteAll(onnx.Files(EncoderFile, DecoderFile), CancellationToken.None);

        var console = context.Out;
        console.MarkupLineInterpolated($"[bold]Model[/] {Path.GetFullPath(settings.ModelPath)}: VAE {vae.InputDim} → {vae.HiddenDim} → {vae.LatentDim}{(vae.IsStandardized ? ", standardization folded into both graphs" : "")}");
        console.MarkupLineInterpolated($"[bold]Wrote[/] {output.File(EncoderFile)}  [grey](input 'features' [[N, {vae.InputDim}]] → outputs 'mu', 'logvar' [[N, {vae.LatentDim}]])[/]");
        console.MarkupLineInterpolated($"[bold]Wrote[/] {output.File(DecoderFile)}  [grey](input 'z' [[N, {vae.LatentDim}]] → output 'reconstruction' [[N, {vae.InputDim}]], in the original scale)[/]");
        return ExitCodes.Success;
    }
}
