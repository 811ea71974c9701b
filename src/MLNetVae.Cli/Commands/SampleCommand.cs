using System.CommandLine;
using System.Globalization;
using Microsoft.ML;
using Microsoft.ML.Data;
using Microsoft.ML.OnnxRuntime;
using Microsoft.ML.OnnxRuntime.Tensors;
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
            "Generate rows: decode random latent vectors z ~ N(0, I) with the model's decoder. With the default small β the latent space only loosely follows N(0, I), so treat them as rough samples.")
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

        var z = Draw(settings.Count, vae.LatentDim, settings.Seed);
        cancellationToken.ThrowIfCancellationRequested();
        var rows = Decode(vae, z, settings.Count);

        OutputFile.CreateParent(outputPath);
        CsvOutput.Write(outputPath, names, writeLine =>
        {
            for (int i = 0; i < settings.Count; i++)
                writeLine(rows.AsSpan(i * vae.InputDim, vae.InputDim).ToArray().Select(CsvOutput.Number));
        });

        var console = context.Out;
        console.MarkupLineInterpolated($"[bold]Model[/] {model.Path}: {ScoreCommand.Describe(model)}");
        console.MarkupLineInterpolated($"[bold]Sampled[/] {settings.Count} latent vectors z ~ N(0, I) of size {vae.LatentDim} (seed {settings.Seed}) and decoded them with the model's decoder (ONNX Runtime).");
        console.MarkupLineInterpolated($"[bold]Wrote[/] {outputPath} ({settings.Count} rows × {vae.InputDim} columns: {Shorten(names)})");
        return ExitCodes.Success;
    }

    /// <summary>Standard normal draws (Box–Muller on <see cref="Random"/>), row-major [count, latent].</summary>
    internal static float[] Draw(int count, int latent, int seed)
    {
        var random = new Random(seed);
        var z = new float[count * latent];
        for (int i = 0; i < z.Length; i += 2)
        {
            double u1 = 1.0 - random.NextDouble(), u2 = random.NextDouble();
            double radius = Math.Sqrt(-2.0 * Math.Log(u1));
            z[i] = (float)(radius * Math.Cos(2 * Math.PI * u2));
            if (i + 1 < z.Length)
                z[i + 1] = (float)(radius * Math.Sin(2 * Math.PI * u2));
        }
        return z;
    }

    /// <summary>Runs the decoder graph on <paramref name="z"/>; returns [count, input] in the original scale.</summary>
    private static float[] Decode(VaeTransformer vae, float[] z, int count)
    {
        using var encoder = new MemoryStream();
        using var decoder = new MemoryStream();
        vae.ExportOnnx(encoder, decoder);
        using var options = new SessionOptions { IntraOpNumThreads = 1 };
        using var session = new InferenceSession(decoder.ToArray(), options);
        string input = session.InputMetadata.Keys.Single();
        string output = session.OutputMetadata.Keys.Single();
        using var results = session.Run([NamedOnnxValue.CreateFromTensor(input, new DenseTensor<float>(z, [count, vae.LatentDim]))]);
        return results.Single(r => r.Name == output).AsTensor<float>().ToArray();
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
