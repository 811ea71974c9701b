// usage: MLNetVae.TestHost <model.zip> <data.csv> <output.tsv> (plain|fast)
// Loads the model in this fresh process, scores the CSV (Label, then features) and writes one line per row:
// the ReconstructionError and every column of the output named by the model's VAE Mu column, as round-trip
// float text ("R"), tab-separated.
using System.Globalization;
using Microsoft.ML;
using Microsoft.ML.Data;

if (args.Length != 4 || args[3] is not ("plain" or "fast"))
{
    Console.Error.WriteLine("usage: MLNetVae.TestHost <model.zip> <data.csv> <output.tsv> (plain|fast)");
    return 2;
}

var (modelPath, csvPath, outputPath, mode) = (args[0], args[1], args[2], args[3]);
var ml = new MLContext(seed: 123);
ITransformer model;
if (mode == "fast")
{
    model = ml.Model.LoadWithFastVae(modelPath, out _);
}
else
{
    ml.RegisterVaeComponents();
    model = ml.Model.Load(modelPath, out _);
}

int features = File.ReadLines(csvPath).First().Split(',').Length - 1;
var data = ml.Data.LoadFromTextFile(csvPath, new[]
{
    new TextLoader.Column("Label", DataKind.Single, 0),
    new TextLoader.Column("Features", DataKind.Single, 1, features),
}, separatorChar: ',', hasHeader: true);

var scored = model.Transform(data);
var errorColumn = scored.Schema["ReconstructionError"];
var latentColumn = scored.Schema[args.Length > 4 ? args[4] : "Latent"];
using var cursor = scored.GetRowCursor(new[] { errorColumn, latentColumn });
var errorGetter = cursor.GetGetter<float>(errorColumn);
var latentGetter = cursor.GetGetter<VBuffer<float>>(latentColumn);
float error = 0;
VBuffer<float> latent = default;
using var writer = new StreamWriter(outputPath);
while (cursor.MoveNext())
{
    errorGetter(ref error);
    latentGetter(ref latent);
    writer.WriteLine(string.Join('\t', latent.DenseValues().Prepend(error).Select(v => v.ToString("R", CultureInfo.InvariantCulture))));
}
Console.WriteLine($"{mode}: {model.GetType().Name} scored");
// Whether this process's VAE sessions share one ONNX Runtime thread pool (SeparateProcessTests checks the fast path's).
Console.WriteLine($"global thread pool: {MLNetVae.Scoring.OnnxRuntimeSessions.UsesGlobalThreadPool}");
return 0;
