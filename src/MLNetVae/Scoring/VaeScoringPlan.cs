using Microsoft.ML;
using Microsoft.ML.Data;
using MLNetVae.Data;

namespace MLNetVae.Scoring;

/// <summary>
/// How a transformer maps one input schema: where the input column is, the output schema (input columns first,
/// unchanged, then Mu, LogVar, Reconstruction, ReconstructionError) and which outputs a set of columns needs.
/// </summary>
internal sealed class VaeScoringPlan : IScoringPlan
{
    public const int OutputCount = 4;

    public VaeScoringPlan(DataViewSchema inputSchema, VaeOutputColumnNames names, int inputDim, int latentDim)
    {
        InputSchema = inputSchema;
        Input = InputColumn.Require(inputSchema, names.Input, inputDim);
        var builder = new DataViewSchema.Builder();
        builder.AddColumns(inputSchema);
        builder.AddColumn(names.Mu, new VectorDataViewType(NumberDataViewType.Single, latentDim));
        builder.AddColumn(names.LogVar, new VectorDataViewType(NumberDataViewType.Single, latentDim));
        builder.AddColumn(names.Reconstruction, new VectorDataViewType(NumberDataViewType.Single, inputDim));
        builder.AddColumn(names.ReconstructionError, NumberDataViewType.Single);
        OutputSchema = builder.ToSchema();
        FirstOutput = inputSchema.Count;
        InputDim = inputDim;
        LatentDim = latentDim;
    }

    public int InputDim { get; }
    public int LatentDim { get; }

    /// <summary>Buffers for up to <paramref name="capacity"/> rows of this model's input and outputs.</summary>
    public VaeBlock CreateBlock(int capacity) => new(capacity, InputDim, LatentDim);

    public DataViewSchema InputSchema { get; }
    public DataViewSchema OutputSchema { get; }
    public DataViewSchema.Column Input { get; }

    /// <summary>Index of the first added column in <see cref="OutputSchema"/>.</summary>
    public int FirstOutput { get; }

    public bool IsOutput(int index) => index >= FirstOutput;

    public VaeOutputs OutputOf(int index) => (index - FirstOutput) switch
    {
        0 => VaeOutputs.Mu,
        1 => VaeOutputs.LogVar,
        2 => VaeOutputs.Reconstruction,
        3 => VaeOutputs.ReconstructionError,
        _ => throw new ArgumentOutOfRangeException(nameof(index), index, "Not an output column of the VAE."),
    };

    public VaeOutputs OutputsNeeded(IEnumerable<DataViewSchema.Column> columns) =>
        columns.Where(c => IsOutput(c.Index)).Aggregate(VaeOutputs.None, (all, c) => all | OutputOf(c.Index));
}

/// <summary>The five column names a transformer reads and writes.</summary>
internal sealed record VaeOutputColumnNames(string Input, string Mu, string LogVar, string Reconstruction, string ReconstructionError)
{
    public static VaeOutputColumnNames From(VaeOptions o) =>
        new(o.InputColumnName, o.MuColumnName, o.LogVarColumnName, o.ReconstructionColumnName, o.ReconstructionErrorColumnName);
}
