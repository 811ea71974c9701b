using Microsoft.ML;
using Microsoft.ML.Data;
using MLNetVae.Cli.Infrastructure;

namespace MLNetVae.Cli.Modeling;

/// <summary>A model file opened by <see cref="ModelFile.Load"/>.</summary>
internal sealed class LoadedModel(string path, ITransformer pipeline, DataViewSchema inputSchema, VaeTransformer vae) : IDisposable
{
    /// <summary>Absolute path of the model file.</summary>
    public string Path { get; } = path;

    /// <summary>The saved pipeline, with the batched VAE (<c>LoadWithFastVae</c>).</summary>
    public ITransformer Pipeline { get; } = pipeline;

    /// <summary>The columns the pipeline reads (for models from <c>train</c>: exactly the feature columns).</summary>
    public DataViewSchema InputSchema { get; } = inputSchema;

    /// <summary>The VAE in the pipeline: options, report, ONNX export.</summary>
    public VaeTransformer Vae { get; } = vae;

    /// <summary>The visible input columns, in order.</summary>
    public IReadOnlyList<string> InputColumns => InputSchema.Where(c => !c.IsHidden).Select(c => c.Name).ToArray();

    /// <summary>The pipeline's output schema.</summary>
    public DataViewSchema OutputSchema => Pipeline.GetOutputSchema(InputSchema);

    /// <summary>Whether the pipeline decides itself (Score, PredictedLabel and Threshold of <see cref="AnomalyPipeline"/>).</summary>
    public bool HasDecision =>
        OutputSchema.GetColumnOrNull(AnomalyPipeline.ScoreColumn)?.Type == NumberDataViewType.Single
        && OutputSchema.GetColumnOrNull(AnomalyPipeline.PredictedLabelColumn)?.Type == BooleanDataViewType.Instance
        && OutputSchema.GetColumnOrNull(AnomalyPipeline.ThresholdColumn)?.Type == NumberDataViewType.Single;

    /// <summary>The anomaly score column: <c>Score</c> for models from <c>train</c>, else the VAE's reconstruction error.</summary>
    public string ScoreColumn => HasDecision ? AnomalyPipeline.ScoreColumn : Vae.Options.ReconstructionErrorColumnName;

    public void Dispose()
    {
        Vae.Dispose();
        (Pipeline as IDisposable)?.Dispose();
    }
}

/// <summary>Opens model files for score, evaluate, export and sample, with one-line errors for files of the wrong kind.</summary>
internal static class ModelFile
{
    public const string Hint = "Pass a model.zip written by 'mlnetvae train' (or an ML.NET model saved with one MLNetVae VAE in it).";

    /// <summary>Just the VAE (export, sample): <c>LoadVaeTransformer</c>.</summary>
    public static VaeTransformer LoadVae(MLContext ml, string path)
    {
        string full = InputPaths.ResolveExistingFile(path, "model file");
        IReadOnlyList<VaeTransformer> vaes;
        try
        {
            vaes = ml.Model.LoadVaeTransformers(full);
        }
        catch (VaeModelFileException e)
        {
            throw new CliException(OneLine(e.Message), Hint);
        }
        return Single(full, vaes);
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
        Collect(pipeline, vaes);
        try
        {
            return new LoadedModel(full, pipeline, inputSchema, Single(full, vaes));
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

    private static void Collect(ITransformer transformer, List<VaeTransformer> found)
    {
        if (transformer is VaeTransformer vae)
            found.Add(vae);
        else if (transformer is IEnumerable<ITransformer> chain)
            foreach (var inner in chain)
                Collect(inner, found);
    }

    private static string OneLine(string message) => message.Split('\n')[0].TrimEnd();
}
