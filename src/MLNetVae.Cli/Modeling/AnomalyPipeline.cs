using Microsoft.ML;
using MLNetVae.Cli.Data;

namespace MLNetVae.Cli.Modeling;

/// <summary>
/// The model <c>mlnetvae train</c> saves: one ML.NET pipeline from the data file's named feature columns to the anomaly
/// decision, so the model file alone scores new data, in the CLI or in any ML.NET application (<c>LoadWithFastVae</c>
/// returns the library's <see cref="VaeAnomalyTransformer"/> inside it):
/// <list type="number">
/// <item><c>Concatenate</c>: the feature columns → <c>Features</c>, the detector's input vector.</item>
/// <item><see cref="VaeAnomalyTransformer"/>: <c>Score</c> and <c>PredictedLabel</c>, the columns ML.NET's anomaly
/// evaluator reads.</item>
/// </list>
/// Models written before the CLI used the library's detector end in the VAE and expression transforms computing
/// <c>Score</c>, <c>PredictedLabel</c> and a constant <see cref="LegacyThresholdColumn"/>; the commands still read them.
/// </summary>
internal static class AnomalyPipeline
{
    public const string FeaturesColumn = LabelledCsv.FeaturesColumn;
    public const string ScoreColumn = VaeAnomalyOptions.Defaults.ScoreColumnName;
    public const string PredictedLabelColumn = VaeAnomalyOptions.Defaults.PredictedLabelColumnName;

    /// <summary>The constant threshold column of models from earlier versions of <c>train</c>.</summary>
    public const string LegacyThresholdColumn = "Threshold";

    /// <summary>Stage 1, fitted: the feature columns concatenated into <see cref="FeaturesColumn"/>.</summary>
    public static ITransformer FitFeatures(MLContext ml, TabularData data) =>
        ml.Transforms.Concatenate(FeaturesColumn, data.FeatureColumns.ToArray()).Fit(data.Data);

    /// <summary>
    /// The schema saved as the model's input: only the feature columns, with their types, so a data file to score needs
    /// those columns (by name, in any order, other columns ignored) and nothing else.
    /// </summary>
    public static DataViewSchema InputSchema(TabularData data)
    {
        var builder = new DataViewSchema.Builder();
        foreach (var name in data.FeatureColumns)
            builder.AddColumn(name, data.Data.Schema[name].Type);
        return builder.ToSchema();
    }
}
