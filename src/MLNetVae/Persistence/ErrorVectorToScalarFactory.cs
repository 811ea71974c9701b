using System.ComponentModel;
using Microsoft.ML;
using Microsoft.ML.Data;
using Microsoft.ML.Transforms;

namespace MLNetVae.Persistence;

/// <summary>
/// Infrastructure of saved MLNetVae models (not for direct use): turns the row graph's one-element error vector
/// into the scalar <c>ReconstructionError</c> column. ML.NET finds it by its contract name when it loads a model;
/// call <c>mlContext.ComponentCatalog.RegisterAssembly(typeof(VaeTransformer).Assembly)</c> before
/// <c>mlContext.Model.Load</c>, or load with <see cref="VaeModelOperations"/>, which does it for you.
/// </summary>
[EditorBrowsable(EditorBrowsableState.Never)]
[CustomMappingFactoryAttribute(ContractName)]
public sealed class ErrorVectorToScalarFactory : CustomMappingFactory<ErrorVectorToScalarFactory.ErrorVector, ErrorVectorToScalarFactory.ErrorScalar>
{
    /// <summary>The contract name stored in model files; never change it (old files refer to it).</summary>
    public const string ContractName = "MLNetVae.ReconstructionErrorVectorToScalar.v1";

    /// <inheritdoc />
    public override Action<ErrorVector, ErrorScalar> GetMapping() => static (source, destination) => destination.Value = source.Value[0];

    /// <summary>Input row of the mapping.</summary>
    public sealed class ErrorVector
    {
        /// <summary>The one-element error vector.</summary>
        [ColumnName(MLNetModelChain.ErrorVectorColumn), VectorType(1)]
        public float[] Value { get; set; } = Array.Empty<float>();
    }

    /// <summary>Output row of the mapping.</summary>
    public sealed class ErrorScalar
    {
        /// <summary>The error as a scalar.</summary>
        [ColumnName(MLNetModelChain.ErrorScalarColumn)]
        public float Value { get; set; }
    }
}
