using System.CommandLine;
using System.Globalization;
using Microsoft.ML;
using Microsoft.ML.Data;
using MLNetVae.Cli.Infrastructure;
using MLNetVae.Cli.Modeling;
using MLNetVae.Cli.Output;
using Spectre.Console;

namespace MLNetVae.Cli.Commands;

/// <summary>
/// <c>mlnetvae sample</c>: generates rows by drawing latent vectors z ~ N(0, I) and decoding them with the model's
/// decoder (exported to ONNX in memory and run with ONNX Runtime), written as CSV with the training file's column names.
/// </summary>
internal static class SampleCommand
{
    internal sealed record Settings(string ModelPath, string OutputPath, bool Overwrite, int Count, int Seed);

    public static Command Create(CliContext context)
    {
        var model = CommonOptions.Model();
        var output = CommonOptions.OutputFile("CSV to write: one generated row per line, with the model's feature column names as header.");
        var overwrite = CommonOptions.Overwrite();
        var count = new Option<int>("--count", "-n") { Description = "Number of rows to generate.", DefaultValueFactory = _ => 10 }.Positive();
        var seed = CommonOptions.Seed("Seed of the latent draws: the same seed gives the same rows.");
        var command = new Command("sample",
            "Generate rows: decode random latent vectors z ~ N(0, I) with the model's decoder. With a small β (the featurizer's default 0.01) the latent space only loosely follows N(0, I), so treat them as rough samples; the detector's β 1, which train uses, follows it more closely.")
        {
            model, output, overwrite, count, seed,
        };
        command.SetAction(parseResult => CommandExecution.Run(context, parseResult.GetValue(CliApp.Verbose), cancellationToken =>
            Execute(context, new Settings(parseResult.GetValue(model)!, parseResult.GetValue(output)!, parseResult.GetValue(overwrite),
                parseResult.GetValue(count), parseResult.GetValue(seed)), cancellationToken)));
        return command;
    }

    internal static int Execute(CliContext context, Settings settings, CancellationToken cancellationToken)
    {
        string outputPath = OutputFile.Prepare(settings.OutputPath, settings.Overwrite);
        var ml = new MLContext(seed: settings.Seed);
        using var model = ModelFile.Load(ml, settings.ModelPath);
        var vae = model.Vae;
        var names = ColumnNames(model);

        cancellationToken.ThrowIfCancellationRequested();
        float[][] rows;
        try
        {
            // The library's generation: z ~ N(0, I) from the seed, decoded by the model's own ONNX decoder.
            rows = vae.Sample(settings.Count, settings.Seed);
        }
        catch (ArgumentOutOfRangeException e) when (e.ParamName == "count")
        {
            throw new CliException($"--count {settings.Count} is too large for this model: {e.Message.Split(" (Parameter")[0]}",
                "Ask for fewer rows, or run sample several times with different --seed values.");
        }

        OutputFile.Write(outputPath, settings.Overwrite, path => CsvOutput.Write(path, names, writeLine =>
        {
            for (int i = 0; i < settings.Count; i++)
                writeLine(rows[i].Select(CsvOutput.Number));
        }));

        var console = context.Out;
        console.MarkupLineInterpolated($"[bold]Model[/] {model.Path}: {ScoreCommand.Describe(model)}");
        console.MarkupLineInterpolated($"[bold]Sampled[/] {settings.Count} latent vectors z ~ N(0, I) of size {vae.LatentDim} (seed {settings.Seed}) and decoded them with the model's decoder (VaeTransformer.Sample).");
        console.MarkupLineInterpolated($"[bold]Wrote[/] {outputPath} ({settings.Count} rows × {vae.InputDim} columns: {Shorten(names)})");
        return ExitCodes.Success;
    }

    /// <summary>The model's input column names when they are one scalar per feature (models from a CSV); else Feature0..N.</summary>
    private static IReadOnlyList<string> ColumnNames(LoadedModel model)
    {
        var columns = model.InputSchema.Where(c => !c.IsHidden).ToList();
        if (columns.Count == model.Vae.InputDim && columns.All(c => c.Type == NumberDataViewType.Single))
            return columns.Select(c => c.Name).ToArray();
        return Enumerable.Range(0, model.Vae.InputDim).Select(i => "Feature" + i.ToString(CultureInfo.InvariantCulture)).ToArray();
    }

    private static string Shorten(IReadOnlyList<string> names) =>
        names.Count <= 6 ? string.Join(", ", names) : $"{string.Join(", ", names.Take(3))}, ..., {names[^1]}";
}
