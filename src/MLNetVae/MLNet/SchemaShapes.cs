using Microsoft.ML;
using Microsoft.ML.Data;
using MLNetVae.Data;
using static Microsoft.ML.SchemaShape.Column;

namespace MLNetVae.MLNet;

/// <summary>
/// Builds output <see cref="SchemaShape"/>s with public ML.NET API only: <see cref="SchemaShape.Column"/> has no
/// public constructor, so the new columns are described by a <c>CustomMapping</c> estimator's schema logic,
/// which adds (or replaces) columns declared by a <see cref="SchemaDefinition"/>.
/// </summary>
internal static class SchemaShapes
{
    private sealed class NoInput;

    private sealed class VaeOutputRow
    {
        public float[] Mu = Array.Empty<float>();
        public float[] LogVar = Array.Empty<float>();
        public float[] Reconstruction = Array.Empty<float>();
        public float ReconstructionError = 0;
    }

    /// <summary>
    /// Checks the input column's shape and returns the input shape plus the VAE's four output columns; a missing column's
    /// error tells the user to set <paramref name="option"/>.
    /// </summary>
    public static SchemaShape VaeOutput(SchemaShape input, VaeOptions options, string option = InputColumn.FeaturizerOption)
    {
        var column = input.FirstOrDefault(c => c.Name == options.InputColumnName);
        if (column.Name is null)
        {
            var available = string.Join(", ", input.Select(c => $"'{c.Name}'"));
            throw new ArgumentOutOfRangeException(nameof(input), options.InputColumnName,
                $"Input column '{options.InputColumnName}' was not found. Available columns: {available}. Set {option}.");
        }
        if (column.Kind != VectorKind.Vector || column.ItemType != NumberDataViewType.Single || column.IsKey)
            throw new ArgumentOutOfRangeException(nameof(input), options.InputColumnName,
                $"Input column '{options.InputColumnName}' is {Describe(column)}; the VAE needs a known-size vector of Single.");

        var definition = SchemaDefinition.Create(typeof(VaeOutputRow));
        Rename(definition, nameof(VaeOutputRow.Mu), options.MuColumnName);
        Rename(definition, nameof(VaeOutputRow.LogVar), options.LogVarColumnName);
        Rename(definition, nameof(VaeOutputRow.Reconstruction), options.ReconstructionColumnName);
        Rename(definition, nameof(VaeOutputRow.ReconstructionError), options.ReconstructionErrorColumnName);
        // Sizes do not matter in a SchemaShape, only "known size" does; 1 stands for any known size.
        foreach (var name in new[] { options.MuColumnName, options.LogVarColumnName, options.ReconstructionColumnName })
            definition[name].ColumnType = new VectorDataViewType(NumberDataViewType.Single, 1);

        var estimator = new MLContext().Transforms.CustomMapping<NoInput, VaeOutputRow>(
            static (_, _) => { }, contractName: null, outputSchemaDefinition: definition);
        return estimator.GetOutputSchema(input);
    }

    private static void Rename(SchemaDefinition definition, string member, string name) =>
        definition.Single(c => c.MemberName == member).ColumnName = name;

    private static string Describe(SchemaShape.Column column) =>
        column.Kind switch
        {
            VectorKind.Scalar => $"a scalar {column.ItemType}",
            VectorKind.VariableVector => $"a variable-size vector of {column.ItemType}",
            _ => $"a vector of {column.ItemType}",
        } + (column.IsKey ? " (key)" : "");
}
