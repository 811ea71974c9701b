using Microsoft.ML;
using Microsoft.ML.Data;
using MLNetVae.Data;
using MLNetVae.Scoring;

namespace MLNetVae.AnomalyDetection;

/// <summary>The columns an anomaly transformer adds.</summary>
[Flags]
internal enum AnomalyOutputs
{
    None = 0,
    Score = 1,
    PredictedLabel = 2,
    PerFeatureError = 4,
}

/// <summary>The column names an anomaly transformer reads and writes.</summary>
internal sealed record AnomalyColumnNames(string Input, string Score, string PredictedLabel, string? PerFeatureError)
{
    public static AnomalyColumnNames From(VaeAnomalyOptions o) =>
        new(o.FeatureColumnName, o.ScoreColumnName, o.PredictedLabelColumnName, o.PerFeatureErrorColumnName);
}

/// <summary>
/// How an anomaly transformer maps one input schema: the input column, the output schema (input columns first,
/// unchanged, then Score, PredictedLabel and the optional per-feature error) and which outputs a set of columns needs.
/// </summary>
internal sealed class AnomalyScoringPlan : IScoringPlan
{
    private readonly AnomalyOutputs[] kinds;

    public AnomalyScoringPlan(DataViewSchema inputSchema, AnomalyColumnNames names, int inputDim)
    {
        InputSchema = inputSchema;
        InputDim = inputDim;
        Input = InputColumn.Require(inputSchema, names.Input, inputDim, InputColumn.DetectorOption);
        var builder = new DataViewSchema.Builder();
        builder.AddColumns(inputSchema);
        builder.AddColumn(names.Score, NumberDataViewType.Single);
        builder.AddColumn(names.PredictedLabel, BooleanDataViewType.Instance);
        var added = new List<AnomalyOutputs> { AnomalyOutputs.Score, AnomalyOutputs.PredictedLabel };
        if (names.PerFeatureError is { } perFeature)
        {
            builder.AddColumn(perFeature, new VectorDataViewType(NumberDataViewType.Single, inputDim));
            added.Add(AnomalyOutputs.PerFeatureError);
        }
        OutputSchema = builder.ToSchema();
        FirstOutput = inputSchema.Count;
        kinds = added.ToArray();
    }

    public int InputDim { get; }
    public DataViewSchema InputSchema { get; }
    public DataViewSchema OutputSchema { get; }
    public DataViewSchema.Column Input { get; }
    public int FirstOutput { get; }

    public bool IsOutput(int index) => index >= FirstOutput;

    public AnomalyOutputs OutputOf(int index) =>
        IsOutput(index) && index - FirstOutput < kinds.Length
            ? kinds[index - FirstOutput]
            : throw new ArgumentOutOfRangeException(nameof(index), index, "Not an output column of the anomaly detector.");

    public AnomalyOutputs OutputsNeeded(IEnumerable<DataViewSchema.Column> columns) =>
        columns.Where(c => IsOutput(c.Index)).Aggregate(AnomalyOutputs.None, (all, c) => all | OutputOf(c.Index));
}
