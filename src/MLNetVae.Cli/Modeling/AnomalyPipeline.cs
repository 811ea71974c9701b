using System.Globalization;
using Microsoft.ML;
using Microsoft.ML.Data;
using MLNetVae.Cli.Data;

namespace MLNetVae.Cli.Modeling;

/// <summary>
/// The model <c>mlnetvae train</c> saves: one ML.NET pipeline from the data file's named feature columns to an anomaly
/// decision, so the model file alone scores new data (any ML.NET application can load it after
/// <c>RegisterVaeComponents</c>):
/// <list type="number">
/// <item><c>Concatenate</c>: the feature columns → <c>Features</c>, the VAE's input vector.</item>
/// <item>The VAE: <c>Mu</c>, <c>LogVar</c>, <c>Reconstruction</c>, <c>ReconstructionError</c>.</item>
/// <item><c>Score</c> = <c>ReconstructionError</c>, <c>PredictedLabel</c> = <c>Score &gt; threshold</c> and a constant
/// <c>Threshold</c> column (ML.NET expression transforms), named like ML.NET's anomaly-detection trainers' outputs.</item>
/// </list>
/// The threshold is the (1 - contamination) quantile of the reconstruction errors of rows held out from training
/// (<see cref="CalibrationSplit"/>). When MLNetVae gets its
/// own anomaly trainer (Score/PredictedLabel and a threshold), stage 3 is what it replaces; the commands read only the
/// columns named here.
/// </summary>
internal static class AnomalyPipeline
{
    public const string FeaturesColumn = LabelledCsv.FeaturesColumn;
    public const string ScoreColumn = "Score";
    public const string PredictedLabelColumn = "PredictedLabel";
    public const string ThresholdColumn = "Threshold";

    /// <summary>Stage 1, fitted: the feature columns concatenated into <see cref="FeaturesColumn"/>.</summary>
    public static ITransformer FitFeatures(MLContext ml, TabularData data) =>
        ml.Transforms.Concatenate(FeaturesColumn, data.FeatureColumns.ToArray()).Fit(data.Data);

    /// <summary>The score at the (1 - <paramref name="contamination"/>) quantile of <paramref name="errors"/>: rows above it are flagged.</summary>
    public static float Threshold(float[] errors, double contamination) =>
        Evaluation.AnomalyEvaluation.Quantile(errors, 1 - contamination);

    /// <summary>Stage 3, fitted on the VAE's output: Score, PredictedLabel (Score &gt; threshold) and Threshold.</summary>
    public static ITransformer FitDecision(MLContext ml, IDataView vaeOutput, string reconstructionErrorColumn, float threshold)
    {
        string literal = Literal(threshold);
        return ml.Transforms.CopyColumns(ScoreColumn, reconstructionErrorColumn)
            .Append(ml.Transforms.Expression(PredictedLabelColumn, $"score => score > {literal}", ScoreColumn))
            .Append(ml.Transforms.Expression(ThresholdColumn, $"score => {literal}", ScoreColumn))
            .Fit(vaeOutput);
    }

    /// <summary>The whole model: features → VAE → decision.</summary>
    public static TransformerChain<ITransformer> Assemble(ITransformer features, VaeTransformer vae, ITransformer decision) =>
        new(features, vae, decision);

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

    /// <summary>
    /// A float literal for ML.NET's expression language that parses back to exactly <paramref name="value"/> (always
    /// with a decimal point: "1" would be an Int32 there).
    /// </summary>
    internal static string Literal(float value)
    {
        if (!float.IsFinite(value))
            throw new InvalidOperationException($"The anomaly threshold is {value}; it must be a finite number.");
        string text = ((double)value).ToString("0.0##############################", CultureInfo.InvariantCulture);
        if (float.Parse(text, CultureInfo.InvariantCulture) != value)
            throw new InvalidOperationException($"The threshold {value:R} cannot be written exactly as '{text}'.");
        return text;
    }
}
