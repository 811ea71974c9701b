using Microsoft.ML;
using Microsoft.ML.Data;
using Microsoft.ML.Transforms;
using MLNetVae.Onnx;

namespace MLNetVae.Persistence;

/// <summary>
/// How a <see cref="VaeTransformer"/> goes into an ML.NET model file with public API only. ML.NET does not let a
/// third-party transformer write its own state (the save/load contexts are internal), so the transformer saves an
/// equivalent chain of ML.NET's own transformers: <c>ApplyOnnxModel</c> with the row graph (ML.NET embeds the
/// ONNX bytes in the zip), a stateless mapping from the <c>[1]</c> error vector to a scalar, a copy to the
/// configured error column and a drop of the two temporary columns. <c>mlContext.Model.Load</c> returns that chain
/// (row-at-a-time); <see cref="VaeModelOperations"/> gets the fast transformer back from the same file.
/// </summary>
internal static class MLNetModelChain
{
    public const string ErrorVectorColumn = "MLNetVae.ReconstructionErrorVector";
    public const string ErrorScalarColumn = "MLNetVae.ReconstructionErrorScalar";

    public static TransformerChain<ITransformer> Build(VaeTransformer vae, int? gpuDeviceId, bool fallbackToCpu)
    {
        var options = vae.Options;
        var names = new RowGraphNames(options.InputColumnName, options.MuColumnName, options.LogVarColumnName,
            options.ReconstructionColumnName, ErrorVectorColumn);
        var rowGraph = GraphChecksum.Seal(VaeRowGraphExporter.Export(vae.Weights, names, VaeModelFormat.Metadata(options, vae.TrainingReport)));

        var ml = new MLContext();
        var estimator = ml.Transforms.ApplyOnnxModel(
                outputColumnNames: new[] { names.Mu, names.LogVar, names.Reconstruction, names.ErrorVector },
                inputColumnNames: new[] { names.Input },
                modelBytes: new MemoryStream(rowGraph, writable: false),
                gpuDeviceId: gpuDeviceId, fallbackToCpu: fallbackToCpu)
            .Append(ml.Transforms.CustomMapping(new ErrorVectorToScalarFactory().GetMapping(), ErrorVectorToScalarFactory.ContractName))
            .Append(ml.Transforms.CopyColumns(options.ReconstructionErrorColumnName, ErrorScalarColumn))
            .Append(ml.Transforms.DropColumns(ErrorVectorColumn, ErrorScalarColumn));
        var fitted = estimator.Fit(EmptyInput(ml, names.Input, vae.InputDim));
        return new TransformerChain<ITransformer>(fitted.ToArray());
    }

    /// <summary>Whether <paramref name="transformer"/> is a chain this class built (after a save/load round trip).</summary>
    public static bool IsVaeChain(ITransformer transformer) =>
        transformer is TransformerChain<ITransformer> chain
        && chain.Count() == 4
        && chain.ElementAt(1) is CustomMappingTransformer<ErrorVectorToScalarFactory.ErrorVector, ErrorVectorToScalarFactory.ErrorScalar>;

    /// <summary>An empty data view with one vector column, for fitting a chain's schema.</summary>
    internal static IDataView EmptyInput(MLContext ml, string column, int width)
    {
        var definition = SchemaDefinition.Create(typeof(InputRow));
        definition[nameof(InputRow.Features)].ColumnName = column;
        definition[column].ColumnType = new VectorDataViewType(NumberDataViewType.Single, width);
        return ml.Data.LoadFromEnumerable(new List<InputRow>(), definition);
    }

    private sealed class InputRow
    {
        public float[] Features { get; set; } = Array.Empty<float>();
    }
}
