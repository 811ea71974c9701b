using Microsoft.ML;
using Microsoft.ML.Data;
using MLNetVae.Cli.Infrastructure;

namespace MLNetVae.Cli.Modeling;

/// <summary>A model file opened by <see cref="ModelFile.Load"/>.</summary>
internal sealed class LoadedModel(string path, ITransformer pipeline, DataViewSchema inputSchema, VaeTransformer vae, VaeAnomalyTransformer? detector)
    : IDisposable
{
    /// <summary>Absolute path of the model file.</summary>
    public string Path { get; } = path;

    /// <summary>The saved pipeline, with the batched VAE or detector (<c>LoadWithFastVae</c>).</summary>
    public ITransformer Pipeline { get; } = pipeline;

    /// <summary>The columns the pipeline reads (for models from <c>train</c>: exactly the feature columns).</summary>
    public DataViewSchema InputSchema { get; } = inputSchema;

    /// <summary>The VAE in the pipeline (the detector's own when there is one): options, report, ONNX export, generation.</summary>
    public VaeTransformer Vae { get; } = vae;

    /// <summary>The library's anomaly detector in the pipeline (models from <c>train</c>), or null.</summary>
    public VaeAnomalyTransformer? Detector { get; } = detector;

    /// <summary>The visible input columns, in order.</summary>
    public IReadOnlyList<string> InputColumns => InputSchema.Where(c => !c.IsHidden).Select(c => c.Name).ToArray();

    /// <summary>The pipeline's output schema.</summary>
    public DataViewSchema OutputSchema => Pipeline.GetOutputSchema(InputSchema);

    /// <summary>Whether the model decides itself: a detector, or the Score/PredictedLabel/Threshold stage of older <c>train</c> models.</summary>
    public bool HasDecision => Detector is not null || HasLegacyDecision;

    /// <summary>The expression-transform decision of models written before <c>train</c> used the library's detector.</summary>
    public bool HasLegacyDecision =>
        OutputSchema.GetColumnOrNull(AnomalyPipeline.ScoreColumn)?.Type == NumberDataViewType.Single
        && OutputSchema.GetColumnOrNull(AnomalyPipeline.PredictedLabelColumn)?.Type == BooleanDataViewType.Instance
        && OutputSchema.GetColumnOrNull(AnomalyPipeline.LegacyThresholdColumn)?.Type == NumberDataViewType.Single;

    /// <summary>The anomaly score column: the detector's, <c>Score</c> for older models, else the VAE's reconstruction error.</summary>
    public string ScoreColumn => Detector?.Options.ScoreColumnName
        ?? (HasLegacyDecision ? AnomalyPipeline.ScoreColumn : Vae.Options.ReconstructionErrorColumnName);

    /// <summary>What the score is, for labels and messages.</summary>
    public string ScoreDescription => Detector is { } d
        ? d.ScoreKind switch
        {
            VaeAnomalyScoreKind.NegativeElbo => d.Options.Likelihood == VaeAnomalyLikelihood.StudentT
                ? "negative ELBO (Student-t reconstruction + β·KL, training scale)"
                : "negative ELBO (reconstruction + β·KL, training scale)",
            VaeAnomalyScoreKind.MonteCarloReconstructionError => "Monte Carlo reconstruction error (mean squared error per feature)",
            _ => "reconstruction error (mean squared error per feature)",
        }
        : "VAE reconstruction error (mean squared error per feature)";

    /// <summary>The detector's input: <paramref name="data"/> through the stages before the detector (the feature concatenation).</summary>
    public IDataView BeforeDetector(IDataView data)
    {
        if (Detector is null || ReferenceEquals(Pipeline, Detector))
            return data;
        if (Pipeline is TransformerChain<ITransformer> chain && ReferenceEquals(chain.LastTransformer, Detector))
            return new TransformerChain<ITransformer>(chain.Take(chain.Count() - 1).ToArray()).Transform(data);
        throw new CliException($"The model '{Path}' holds the anomaly detector inside a pipeline this tool cannot take apart.",
            "Score it with ML.NET (mlContext.Model.LoadWithFastVae), or pass a model whose detector is its last stage.");
    }

    public void Dispose()
    {
        Vae.Dispose();
        (Pipeline as IDisposable)?.Dispose();
    }
}

/// <summary>Opens model files for score, evaluate, export and sample, with one-line errors for files of the wrong kind.</summary>
internal static class ModelFile
{
    public const string Hint = "Pass a model.zip written by 'mlnetvae train' (or an ML.NET model saved with one MLNetVae detector or VAE in it).";

    /// <summary>Just the VAE (export, sample): the detector's VAE, or the one VAE of the model.</summary>
    public static VaeTransformer LoadVae(MLContext ml, string path)
    {
        var model = Load(ml, path);
        return model.Vae;
    }

    /// <summary>The whole pipeline with the batched VAE (score, evaluate): <c>LoadWithFastVae</c>.</summary>
    public static LoadedModel Load(MLContext ml, string path)
    {
        string full = InputPaths.ResolveExistingFile(path, "model file");
        ITransformer pipeline;
        DataViewSchema inputSchema;
        try
        {
            // The decision stage is an ML.NET expression transform; make sure the loader knows its assembly.
            ml.ComponentCatalog.RegisterAssembly(typeof(ExpressionCatalog).Assembly);
            pipeline = ml.Model.LoadWithFastVae(full, out inputSchema);
        }
        catch (VaeModelFileException e)
        {
            throw new CliException(OneLine(e.Message), Hint);
        }
        var vaes = new List<VaeTransformer>();
        var detectors = new List<VaeAnomalyTransformer>();
        Collect(pipeline, vaes, detectors);
        try
        {
            if (detectors.Count > 1)
                throw new CliException($"The model file '{full}' holds {detectors.Count} anomaly detectors; the commands work on a model with one.", Hint);
            if (detectors.Count == 1)
                return new LoadedModel(full, pipeline, inputSchema, detectors[0].Vae, detectors[0]);
            return new LoadedModel(full, pipeline, inputSchema, Single(full, vaes), null);
        }
        catch
        {
            (pipeline as IDisposable)?.Dispose();
            throw;
        }
    }

    private static VaeTransformer Single(string path, IReadOnlyList<VaeTransformer> vaes)
    {
        if (vaes.Count == 1)
            return vaes[0];
        foreach (var vae in vaes)
            vae.Dispose();
        throw vaes.Count == 0
            ? new CliException($"The model file '{path}' is an ML.NET model without a VAE in it.", Hint)
            : new CliException($"The model file '{path}' holds {vaes.Count} VAEs; the commands work on a model with one.", Hint);
    }

    private static void Collect(ITransformer transformer, List<VaeTransformer> vaes, List<VaeAnomalyTransformer> detectors)
    {
        if (transformer is VaeTransformer vae)
            vaes.Add(vae);
        else if (transformer is VaeAnomalyTransformer detector)
            detectors.Add(detector);
        else if (transformer is IEnumerable<ITransformer> chain)
            foreach (var inner in chain)
                Collect(inner, vaes, detectors);
    }

    private static string OneLine(string message) => message.Split('\n')[0].TrimEnd();
}
