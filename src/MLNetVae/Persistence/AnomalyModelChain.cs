using System.Globalization;
using Microsoft.ML;
using Microsoft.ML.Data;
using Microsoft.ML.Transforms;
using MLNetVae.Onnx;

namespace MLNetVae.Persistence;

/// <summary>
/// How a <see cref="VaeAnomalyTransformer"/> goes into an ML.NET model file with public API only (see
/// <see cref="MLNetModelChain"/> for why): <c>ApplyOnnxModel</c> with the anomaly row graph
/// (<see cref="AnomalyScoreGraph"/>: the score as a <c>[1]</c> vector and the optional per-feature errors), the
/// stateless vector-to-scalar mapping, a copy to the score column, an <c>Expression</c> for the predicted label
/// (<c>score &gt; threshold</c>, the threshold written exactly) and a drop of the temporary columns.
/// <c>mlContext.Model.Load</c> returns that chain, which scores a row per ONNX Runtime call.
/// </summary>
internal static class AnomalyModelChain
{
    public static TransformerChain<ITransformer> Build(VaeAnomalyTransformer detector, int? gpuDeviceId, bool fallbackToCpu)
    {
        var options = detector.Options;
        var vae = detector.Vae;
        var names = new AnomalyRowGraphNames(options.FeatureColumnName, MLNetModelChain.ErrorVectorColumn, options.PerFeatureErrorColumnName);
        var graph = GraphChecksum.Seal(AnomalyScoreGraph.ExportRowGraph(vae.Weights, names, detector.ScoreDefinition, AnomalyModelFormat.Metadata(detector)));

        var ml = new MLContext();
        var outputs = new List<string> { names.ScoreVector };
        if (names.PerFeatureError is { } perFeature)
            outputs.Add(perFeature);
        var estimator = ml.Transforms.ApplyOnnxModel(
                outputColumnNames: outputs.ToArray(),
                inputColumnNames: new[] { names.Input },
                modelBytes: new MemoryStream(graph, writable: false),
                gpuDeviceId: gpuDeviceId, fallbackToCpu: fallbackToCpu)
            .Append(ml.Transforms.CustomMapping(new ErrorVectorToScalarFactory().GetMapping(), ErrorVectorToScalarFactory.ContractName))
            .Append(ml.Transforms.CopyColumns(options.ScoreColumnName, MLNetModelChain.ErrorScalarColumn))
            .Append(ml.Transforms.Expression(options.PredictedLabelColumnName, $"score => score > {Literal(detector.Threshold)}", options.ScoreColumnName))
            .Append(ml.Transforms.DropColumns(MLNetModelChain.ErrorVectorColumn, MLNetModelChain.ErrorScalarColumn));
        var fitted = estimator.Fit(MLNetModelChain.EmptyInput(ml, names.Input, vae.InputDim));
        return new TransformerChain<ITransformer>(fitted.ToArray());
    }

    /// <summary>Whether <paramref name="transformer"/> is a chain this class built (after a save/load round trip).</summary>
    public static bool IsAnomalyChain(ITransformer transformer) =>
        transformer is TransformerChain<ITransformer> chain
        && chain.Count() == 5
        && chain.ElementAt(1) is CustomMappingTransformer<ErrorVectorToScalarFactory.ErrorVector, ErrorVectorToScalarFactory.ErrorScalar>
        // ML.NET's ExpressionTransformer is internal: the type can only be recognised by name.
        && chain.ElementAt(3).GetType().Name == "ExpressionTransformer";

    /// <summary>The threshold as an expression literal that parses back to the same float.</summary>
    internal static string Literal(float value)
    {
        if (!float.IsFinite(value))
            throw new InvalidOperationException($"The anomaly threshold is {value}; only a finite threshold can be saved.");
        string text = ((double)value).ToString("0.0##############################", CultureInfo.InvariantCulture);
        if (float.Parse(text, CultureInfo.InvariantCulture) != value)
            throw new InvalidOperationException($"The threshold {value:R} cannot be written exactly as '{text}'.");
        return text;
    }
}
