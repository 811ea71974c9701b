using Microsoft.ML.Data;
using Microsoft.ML.Runtime;
using MLNetVae;
using MLNetVae.AnomalyDetection;
using MLNetVae.MLNet;
using MLNetVae.Persistence;
using MLNetVae.Scoring;

namespace Microsoft.ML;

/// <summary>
/// Saving and loading models that contain a VAE or a VAE anomaly detector. <c>mlContext.Model.Save</c> already works
/// for any pipeline with a <see cref="VaeTransformer"/> or <see cref="VaeAnomalyTransformer"/> in it;
/// <c>mlContext.Model.Load</c> then returns ML.NET's own equivalent (row-at-a-time ONNX scoring). These methods get the
/// fast, batched transformers back, with their options and training report, and save without ever leaving a
/// half-written file.
/// </summary>
public static class VaeModelOperations
{
    /// <summary>
    /// Loads the one VAE saved in <paramref name="path"/> (alone or inside a pipeline) as a <see cref="VaeTransformer"/>
    /// that scores in batches, can export ONNX again and reports its options and training history.
    /// </summary>
    /// <exception cref="VaeModelFileException">The file is missing, corrupted, not a model, holds no VAE or several, or is of a newer format.</exception>
    public static VaeTransformer LoadVaeTransformer(this ModelOperationsCatalog catalog, string path)
    {
        ArgumentNullException.ThrowIfNull(catalog);
        ArgumentException.ThrowIfNullOrWhiteSpace(path);
        var file = VaeModelFile.Read(path);
        var all = VaeTransformers(catalog, file);
        if (all.Count != 1)
        {
            foreach (var vae in all) vae.Dispose();
            if (all.Count == 0 && file.Detectors.Count > 0)
                throw new VaeModelFileException(path,
                    "it holds a VAE anomaly detector, not a VAE stage. Load it with mlContext.Model.LoadWithFastVae; the detector's Vae property is its VAE.");
            throw new VaeModelFileException(path, all.Count == 0
                ? "it holds 0 VAEs: no ONNX graph in it was written by MLNetVae (it was saved without a VAE, or the VAE's graph was replaced by another model). Load a pipeline without a VAE with mlContext.Model.Load."
                : $"it holds {all.Count} VAEs; use LoadVaeTransformers to get all of them.");
        }
        return all[0];
    }

    /// <summary>Every VAE saved in <paramref name="path"/>, in pipeline order (an empty list when there is none).</summary>
    /// <exception cref="VaeModelFileException">The file is missing, corrupted, not a model, or of a newer format.</exception>
    public static IReadOnlyList<VaeTransformer> LoadVaeTransformers(this ModelOperationsCatalog catalog, string path)
    {
        ArgumentNullException.ThrowIfNull(catalog);
        ArgumentException.ThrowIfNullOrWhiteSpace(path);
        return VaeTransformers(catalog, VaeModelFile.Read(path));
    }

    private static List<VaeTransformer> VaeTransformers(ModelOperationsCatalog catalog, SavedModelFile file)
    {
        var environment = HostEnvironmentAccess.FromCatalog(catalog);
        return file.Vaes.Select(r => new VaeTransformer(environment, r.Options, r.Weights, r.TrainingReport)).ToList();
    }

    /// <summary>
    /// Loads a saved pipeline like <c>mlContext.Model.Load</c>, with every VAE in it replaced by the fast
    /// <see cref="VaeTransformer"/> and every anomaly detector by the <see cref="VaeAnomalyTransformer"/> that was saved
    /// (threshold, scores for <c>WithContamination</c>, options). Outputs equal those of the model that was saved, bit for bit.
    /// </summary>
    /// <exception cref="VaeModelFileException">The file is missing, corrupted, not a model, or of a newer format.</exception>
    public static ITransformer LoadWithFastVae(this ModelOperationsCatalog catalog, string path, out DataViewSchema inputSchema)
    {
        ArgumentNullException.ThrowIfNull(catalog);
        ArgumentException.ThrowIfNullOrWhiteSpace(path);
        OnnxRuntimeSessions.EnsureEnvironment(); // before catalog.Load runs ML.NET's ONNX sessions
        // One read of the file for our graphs and ML.NET's loader: a file replaced meanwhile (SaveSafely's rename) cannot mix models.
        var file = VaeModelFile.Read(path);
        var vaes = new Queue<VaeTransformer>(VaeTransformers(catalog, file));
        var environment = HostEnvironmentAccess.FromCatalog(catalog);
        var detectors = new Queue<VaeAnomalyTransformer>(file.Detectors.Select(r => new VaeAnomalyTransformer(
            environment, r.Options, new VaeTransformer(environment, r.Vae.Options, r.Vae.Weights, r.Vae.TrainingReport),
            new CalibrationScores(r.TrainingScores, r.CalibrationScores), r.ScoringSeed,
            new AnomalyThreshold(r.Threshold, r.Source, r.Contamination, r.FalsePositiveRate))));
        RegisterWith(environment.ComponentCatalog);
        ITransformer loaded;
        try
        {
            DataViewSchema? schema = null;
            loaded = RetryingOrtFormatNameClash(() =>
            {
                using var stream = file.OpenStream();
                return catalog.Load(stream, out schema);
            });
            inputSchema = schema!;
        }
        catch (Exception e) when (e is not (OutOfMemoryException or OperationCanceledException))
        {
            DisposeAll(vaes, detectors);
            // ML.NET wraps the cause (e.g. "Ouput tensor, Mu, does not exist in the ONNX model") in its own or in reflection
            // errors (TargetInvocationException); whatever a stage's constructor throws, the file is what cannot be loaded.
            var cause = e.GetBaseException();
            string detail = cause == e ? e.Message : $"{e.Message}: {cause.Message.ReplaceLineEndings(" ")}";
            throw new VaeModelFileException(path,
                $"ML.NET could not load it ({detail}). If it held a VAE, its ONNX graph may have been replaced or damaged.", e);
        }

        int expected = vaes.Count, expectedDetectors = detectors.Count;
        ITransformer result;
        try
        {
            result = Replace(loaded, vaes, detectors, path);
        }
        catch
        {
            (loaded as IDisposable)?.Dispose();
            DisposeAll(vaes, detectors);
            throw;
        }
        if (vaes.Count != 0 || detectors.Count != 0)
        {
            string problem = vaes.Count != 0
                ? $"it holds {expected} VAE graphs but only {expected - vaes.Count} VAE stages in its pipeline."
                : $"it holds {expectedDetectors} anomaly-detector graphs but only {expectedDetectors - detectors.Count} detector stages in its pipeline.";
            (result as IDisposable)?.Dispose();
            DisposeAll(vaes, detectors);
            throw new VaeModelFileException(path, problem);
        }
        return result;
    }

    /// <summary>Disposes the transformers read from the file that a failed load did not hand over.</summary>
    private static void DisposeAll(Queue<VaeTransformer> vaes, Queue<VaeAnomalyTransformer> detectors)
    {
        while (vaes.TryDequeue(out var vae))
            vae.Dispose();
        while (detectors.TryDequeue(out var detector))
            detector.Dispose();
    }

    /// <summary>
    /// Saves like <c>mlContext.Model.Save</c>, but writes a temporary file next to <paramref name="path"/> and moves
    /// it into place only when complete: a failure (full disk, crash, exception) never leaves a partial file, and an
    /// existing file is replaced only when <paramref name="overwrite"/> is true.
    /// </summary>
    /// <exception cref="IOException"><paramref name="path"/> exists and <paramref name="overwrite"/> is false.</exception>
    public static void SaveSafely(this ModelOperationsCatalog catalog, ITransformer model, DataViewSchema inputSchema, string path, bool overwrite = false)
    {
        ArgumentNullException.ThrowIfNull(catalog);
        ArgumentNullException.ThrowIfNull(model);
        ArgumentException.ThrowIfNullOrWhiteSpace(path);
        if (!overwrite && File.Exists(path))
            throw new IOException($"'{path}' already exists. Pass overwrite: true to replace it, or choose another path.");
        SafeFile.Write(path, stream => catalog.Save(model, inputSchema, stream), overwrite);
    }

    /// <summary>
    /// Runs <paramref name="load"/> again (up to <paramref name="attempts"/> times in all) when it fails only because of
    /// an ML.NET temporary-file name: ML.NET's ONNX transformer writes each graph it loads to a file named by
    /// <see cref="Path.GetRandomFileName"/>, and when that name ends in ".ort" (one load in 32,768 per ONNX stage) ONNX
    /// Runtime reads the file as an ORT-format model and fails with "ORT model verification failed"
    /// (dotnet/machinelearning#7339). Another attempt draws other names; any other error is thrown at once.
    /// </summary>
    internal static T RetryingOrtFormatNameClash<T>(Func<T> load, int attempts = 3)
    {
        for (int attempt = 1; ; attempt++)
        {
            try
            {
                return load();
            }
            catch (Exception e) when (attempt < attempts && IsOrtFormatNameClash(e))
            {
            }
        }
    }

    /// <summary>Whether <paramref name="e"/> is ONNX Runtime refusing a graph as an ORT-format model (see <see cref="RetryingOrtFormatNameClash"/>).</summary>
    internal static bool IsOrtFormatNameClash(Exception e) =>
        e.GetBaseException().Message.Contains("ORT model verification failed", StringComparison.Ordinal);

    /// <summary>
    /// Lets ML.NET find MLNetVae's model components when it loads a file. <see cref="LoadWithFastVae"/> calls it; call
    /// it yourself before a plain <c>mlContext.Model.Load</c> of a file that contains a VAE.
    /// </summary>
    public static void RegisterVaeComponents(this MLContext mlContext)
    {
        ArgumentNullException.ThrowIfNull(mlContext);
        OnnxRuntimeSessions.EnsureEnvironment(); // before Load runs ML.NET's ONNX sessions
        RegisterWith(mlContext.ComponentCatalog);
    }

    private static void RegisterWith(ComponentCatalog componentCatalog) =>
        componentCatalog.RegisterAssembly(typeof(VaeTransformer).Assembly);

    private static ITransformer Replace(ITransformer transformer, Queue<VaeTransformer> vaes, Queue<VaeAnomalyTransformer> detectors, string path)
    {
        if (AnomalyModelChain.IsAnomalyChain(transformer))
        {
            if (detectors.Count == 0)
                throw new VaeModelFileException(path,
                    "its pipeline has an anomaly-detector stage whose ONNX graph was not written by MLNetVae (the graph was replaced or its metadata removed), " +
                    "so it may not be the model that was saved. Save the pipeline again from the trained model.");
            (transformer as IDisposable)?.Dispose();
            return detectors.Dequeue();
        }
        if (MLNetModelChain.IsVaeChain(transformer))
        {
            // A VAE stage whose graph we did not recognise: its ONNX entry was swapped for another model. ML.NET would
            // happily score with that graph; returning it would hand back a model that is not the one that was saved.
            if (vaes.Count == 0)
                throw new VaeModelFileException(path,
                    "its pipeline has a VAE stage whose ONNX graph was not written by MLNetVae (the graph was replaced or its metadata removed), " +
                    "so it may not be the model that was saved. Save the pipeline again from the trained model.");
            (transformer as IDisposable)?.Dispose();
            return vaes.Dequeue();
        }
        if (transformer is TransformerChain<ITransformer> chain)
        {
            var stages = chain.ToArray();
            var replaced = stages.Select(t => Replace(t, vaes, detectors, path)).ToArray();
            if (replaced.SequenceEqual(stages, ReferenceEqualityComparer.Instance))
                return chain; // nothing of ours inside: the chain as ML.NET loaded it
            // The rebuilt chain keeps each stage's scope (a TrainTest label stage stays out of GetModelFor(Scoring)).
            // ML.NET exposes the scopes only through GetModelFor, so each stage's scope is read from the three filters.
            var filtered = new[] { TransformerScope.Training, TransformerScope.Testing, TransformerScope.Scoring }
                .Select(filter => (filter, Stages: chain.GetModelFor(filter).ToHashSet(ReferenceEqualityComparer.Instance))).ToArray();
            var scopes = stages.Select(stage => filtered.Where(f => f.Stages.Contains(stage))
                .Aggregate(TransformerScope.None, (scope, f) => scope | f.filter)).ToArray();
            return new TransformerChain<ITransformer>(replaced, scopes);
        }
        return transformer;
    }
}
