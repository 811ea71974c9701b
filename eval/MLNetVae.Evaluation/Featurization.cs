using System.Diagnostics;
using Microsoft.ML;
using Microsoft.ML.Data;

namespace MLNetVae.Evaluation;

/// <summary>
/// Featurization example: a linear classifier (NormalizeMeanVariance, then SdcaMaximumEntropy) on the VAE's latent mean
/// <c>Mu</c>, against the same classifier on PCA features of the same size (<c>ProjectToPrincipalComponents</c>) and on
/// the raw features. The classifier normalizes its input because SDCA's convergence depends on the feature scale, and
/// Mu and PCA components differ in scale by orders of magnitude.
/// </summary>
/// <remarks>
/// None of the shared CSVs is labelled with more than two classes (the ODDS sets carry anomaly labels only). Two
/// honest tasks are used instead: (1) <b>MVTec object category</b>, 3 classes — the rows of the three MVTec ViT
/// embedding files (bottle, cable, hazelnut), labelled by the file they come from, i.e. by which product the image
/// shows (a real property of each image, not a synthetic label); (2) <b>20 Newsgroups</b>, 2 classes — the shipped
/// BERT embeddings with their binary label (in-topic vs off-topic posts); and (3) each MVTec product's good vs
/// defective images (the anomaly labels of the embedding sets, used as a supervised task).
/// Protocol: seeds 0..k−1, stratified 70/30 split per class, standardized with the training split's statistics,
/// the VAE and PCA fitted on the training split, accuracy on the test split.
/// </remarks>
public static class Featurization
{
    public const int Dimensions = 16;

    public static int Run(Arguments a)
    {
        var tasks = new List<(string Name, float[][] X, int[] Y)>();
        var mvtec = new[] { "bottle", "cable", "hazelnut" }
            .Select(n => Path.Combine(a.DataDirectory, "embeddings", $"mvtec_{n}_vit.csv")).ToArray();
        if (mvtec.All(File.Exists))
        {
            var sets = mvtec.Select((p, i) => (Set: DataSet.Load(p, Path.GetFileNameWithoutExtension(p)), Class: i)).ToList();
            tasks.Add(("MVTec object category (3 classes: bottle/cable/hazelnut ViT)",
                sets.SelectMany(s => s.Set.Features).ToArray(), sets.SelectMany(s => Enumerable.Repeat(s.Class, s.Set.Rows)).ToArray()));
        }
        // Each MVTec product's own labels, good vs defective image: the anomaly sets as supervised 2-class tasks.
        foreach (var path in mvtec.Where(File.Exists))
        {
            var set = DataSet.Load(path, Path.GetFileNameWithoutExtension(path));
            tasks.Add(($"{set.Name.Replace("_vit", "")} good/defect (2 classes, ViT 1000)", set.Features, set.Anomaly.Select(b => b ? 1 : 0).ToArray()));
        }
        var news = Path.Combine(a.DataDirectory, "embeddings", "20news_3_bert768.csv");
        if (File.Exists(news))
        {
            var set = DataSet.Load(news, "20news");
            tasks.Add(("20news in/off-topic (2 classes, BERT 768)", set.Features, set.Anomaly.Select(b => b ? 1 : 0).ToArray()));
        }

        Console.WriteLine($"Featurization: NormalizeMeanVariance + SdcaMaximumEntropy on {Dimensions} VAE latent means (Mu) vs {Dimensions} PCA components vs raw features; " +
                          $"seeds 0..{a.Seeds - 1}, stratified 70/30 split, standardized on the training split.");
        Console.WriteLine("VAE: VaeOptions { HiddenDim = 256, LatentDim = 16, Epochs = 100, BatchSize = 64, Beta = 0.01 (default), KlWarmupEpochs = 10 }.");
        Console.WriteLine();
        Console.WriteLine("| task | rows | d | accuracy on Mu | accuracy on PCA | accuracy on raw features | active latent dims |");
        Console.WriteLine("| --- | ---: | ---: | --- | --- | --- | ---: |");
        foreach (var (name, x, y) in tasks)
        {
            var clock = Stopwatch.StartNew();
            var mu = new List<double>();
            var pca = new List<double>();
            var raw = new List<double>();
            var active = new List<double>();
            for (int seed = 0; seed < a.Seeds; seed++)
            {
                var result = Compare(x, y, seed);
                mu.Add(result.Mu);
                pca.Add(result.Pca);
                raw.Add(result.Raw);
                active.Add(result.Active);
            }
            Console.WriteLine($"| {name} | {x.Length} | {x[0].Length} | {Stat.Of(mu).Format()} | {Stat.Of(pca).Format()} | {Stat.Of(raw).Format()} | {active.Average():F1} of {Dimensions} |");
            Console.Error.WriteLine($"  {name}: {clock.Elapsed.TotalSeconds:F0} s");
        }
        return 0;
    }

    public sealed record Accuracies(double Mu, double Pca, double Raw, int Active);

    /// <summary>One seed of the comparison: split, standardize, fit VAE / PCA / nothing + the same classifier, test accuracy.</summary>
    public static Accuracies Compare(float[][] x, int[] y, int seed)
    {
        var (train, test) = Protocol.StratifiedSplit(y, 0.7, new Random(seed));
        var trainX = train.Select(i => (float[])x[i].Clone()).ToArray();
        var testX = test.Select(i => (float[])x[i].Clone()).ToArray();
        Protocol.Standardize(trainX, testX);

        var ml = new MLContext(seed: seed);
        var trainView = ToDataView(ml, trainX, train.Select(i => y[i]).ToArray());
        var testView = ToDataView(ml, testX, test.Select(i => y[i]).ToArray());

        IEstimator<ITransformer> Classifier(string features) =>
            ml.Transforms.Conversion.MapValueToKey("LabelKey", "Label")
                .Append(ml.Transforms.NormalizeMeanVariance(features))
                .Append(ml.MulticlassClassification.Trainers.SdcaMaximumEntropy(labelColumnName: "LabelKey", featureColumnName: features, maximumNumberOfIterations: 100));
        double Accuracy(ITransformer model) =>
            ml.MulticlassClassification.Evaluate(model.Transform(testView), labelColumnName: "LabelKey").MicroAccuracy;

        var vae = new VaeEstimator(ml, new VaeOptions
        {
            HiddenDim = 256, LatentDim = Dimensions, Epochs = 100, BatchSize = 64, KlWarmupEpochs = 10, Seed = seed,
        });
        var vaeModel = vae.Append(Classifier("Mu")).Fit(trainView);
        int active = ((VaeTransformer)vaeModel.First()).TrainingReport!.ActiveLatentDimensions;
        var pcaModel = ml.Transforms.ProjectToPrincipalComponents("Pca", "Features", rank: Dimensions, seed: seed)
            .Append(Classifier("Pca")).Fit(trainView);
        var rawModel = Classifier("Features").Fit(trainView);
        return new Accuracies(Accuracy(vaeModel), Accuracy(pcaModel), Accuracy(rawModel), active);
    }

    private static IDataView ToDataView(MLContext ml, float[][] x, int[] y)
    {
        var schema = SchemaDefinition.Create(typeof(Rows.Row));
        schema[nameof(Rows.Row.Features)].ColumnType = new VectorDataViewType(NumberDataViewType.Single, x[0].Length);
        return ml.Data.Cache(ml.Data.LoadFromEnumerable(x.Select((f, i) => new Rows.Row { Label = y[i], Features = f }).ToList(), schema));
    }
}
