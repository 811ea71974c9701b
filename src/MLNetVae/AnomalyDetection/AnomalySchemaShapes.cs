using Microsoft.ML;
using Microsoft.ML.Data;
using MLNetVae.Data;
using MLNetVae.MLNet;

namespace MLNetVae.AnomalyDetection;

/// <summary>
/// The anomaly detector's output <see cref="SchemaShape"/>, built with public API only, as <see cref="SchemaShapes"/>
/// does for the VAE: a <c>CustomMapping</c> estimator's schema logic declares the added columns.
/// </summary>
internal static class AnomalySchemaShapes
{
    private sealed class NoInput;

    private sealed class AnomalyOutputRow
    {
        public float Score = 0;
        public bool PredictedLabel = false;
        public float[] PerFeatureError = Array.Empty<float>();
    }

    public static SchemaShape Output(SchemaShape input, VaeAnomalyOptions options)
    {
        // The same checks of the feature column as the VAE's own estimator (present, known-size vector of Single).
        SchemaShapes.VaeOutput(input, new VaeOptions { InputColumnName = options.FeatureColumnName }, InputColumn.DetectorOption);

        var definition = SchemaDefinition.Create(typeof(AnomalyOutputRow));
        definition.Single(c => c.MemberName == nameof(AnomalyOutputRow.Score)).ColumnName = options.ScoreColumnName;
        definition.Single(c => c.MemberName == nameof(AnomalyOutputRow.PredictedLabel)).ColumnName = options.PredictedLabelColumnName;
        var perFeature = definition.Single(c => c.MemberName == nameof(AnomalyOutputRow.PerFeatureError));
        if (options.PerFeatureErrorColumnName is { } name)
        {
            perFeature.ColumnName = name;
            perFeature.ColumnType = new VectorDataViewType(NumberDataViewType.Single, 1); // any known size
        }
        else
        {
            definition.Remove(perFeature);
        }

        var estimator = new MLContext().Transforms.CustomMapping<NoInput, AnomalyOutputRow>(
            static (_, _) => { }, contractName: null, outputSchemaDefinition: definition);
        return estimator.GetOutputSchema(input);
    }
}
