// Built by scripts/compat/make-fixtures.sh against an older MLNetVae package: trains a small VAE and a small anomaly
// detector on ODDS cardio, saves both with ml.Model.Save, and writes the scores that version gives, so a later
// version's tests can check that it loads these files and scores them the same.
// usage: FixtureWriter <cardio.csv> <output folder> <commit>
using System.Globalization;
using Microsoft.ML;
using Microsoft.ML.Data;
using MLNetVae;

var (csv, output, commit) = (args[0], args[1], args[2]);
var ml = new MLContext(seed: 1);
int features = File.ReadLines(csv).First().Split(',').Length - 1;
var data = ml.Data.Cache(ml.Data.LoadFromTextFile(csv, new[]
{
    new TextLoader.Column("Label", DataKind.Single, 0),
    new TextLoader.Column("Features", DataKind.Single, 1, features),
}, separatorChar: ',', hasHeader: true));
var first200 = ml.Data.TakeRows(data, 200);

using var vae = ml.Transforms.VariationalAutoencoder(new VaeOptions
{
    InputColumnName = "Features", HiddenDim = 32, LatentDim = 4, Epochs = 5, NumberOfThreads = 1, Seed = 1,
}).Fit(data);
ml.Model.Save(vae, data.Schema, Path.Combine(output, "vae.zip"));
Write(vae.Transform(first200), "ReconstructionError", "Mu", Path.Combine(output, "vae-scores.tsv"));

using var detector = ml.AnomalyDetection.Trainers.VariationalAutoencoder(new VaeAnomalyOptions
{
    HiddenDim = 32, LatentDim = 4, Epochs = 5, NumberOfThreads = 1, Seed = 1, MonteCarloSamples = 5,
}).Fit(data);
ml.Model.Save(detector, data.Schema, Path.Combine(output, "detector.zip"));
Write(detector.Transform(first200), "Score", null, Path.Combine(output, "detector-scores.tsv"));
File.WriteAllText(Path.Combine(output, "SOURCE.txt"),
    $"Saved by MLNetVae at commit {commit} with scripts/compat/make-fixtures.sh (FixtureWriter.cs), threshold {detector.Threshold:R}.\n");
Console.WriteLine($"fixtures of {commit} written to {output}");

static void Write(IDataView scored, string scalar, string? vector, string path)
{
    var scalarColumn = scored.Schema[scalar];
    var columns = vector is null ? new[] { scalarColumn } : new[] { scalarColumn, scored.Schema[vector] };
    using var cursor = scored.GetRowCursor(columns);
    var scalarGetter = cursor.GetGetter<float>(scalarColumn);
    var vectorGetter = vector is null ? null : cursor.GetGetter<VBuffer<float>>(scored.Schema[vector]);
    float value = 0;
    VBuffer<float> values = default;
    using var writer = new StreamWriter(path);
    while (cursor.MoveNext())
    {
        scalarGetter(ref value);
        var fields = new List<float> { value };
        if (vectorGetter is not null)
        {
            vectorGetter(ref values);
            fields.AddRange(values.DenseValues());
        }
        writer.WriteLine(string.Join('\t', fields.Select(v => v.ToString("R", CultureInfo.InvariantCulture))));
    }
}
