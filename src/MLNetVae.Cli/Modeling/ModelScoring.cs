using Microsoft.ML;
using Microsoft.ML.Data;
using MLNetVae.Cli.Data;
using MLNetVae.Cli.Infrastructure;

namespace MLNetVae.Cli.Modeling;

/// <summary>What a model says about every row of a data file.</summary>
/// <param name="Mu">The latent means (null when not asked for).</param>
/// <param name="Scores">Anomaly scores, higher = more anomalous.</param>
/// <param name="Predicted">Whether each row is flagged: score &gt; threshold.</param>
/// <param name="Threshold">The threshold used.</param>
/// <param name="ThresholdSource">Where it came from, for messages and reports.</param>
internal sealed record ScoredRows(float[][]? Mu, float[] Scores, bool[] Predicted, float Threshold, string ThresholdSource)
{
    public int FlaggedCount => Predicted.Count(p => p);
}

/// <summary>Runs a loaded model over data and reads its scores and decisions.</summary>
internal static class ModelScoring
{
    /// <summary>
    /// How a data file is read for <paramref name="model"/>: its input columns by name (other columns are ignored), and
    /// the label column when present (or required).
    /// </summary>
    public static ColumnSelection SelectionFor(LoadedModel model, string labelColumn, bool labelRequired, string labelPurpose = "") =>
        // A pipeline an application saved may list the label among its input columns; it is read as the label.
        new(labelColumn, labelRequired, model.InputColumns.Where(c => !string.Equals(c, labelColumn, StringComparison.OrdinalIgnoreCase)).ToArray(),
            "the model's input columns",
            $"The model reads {model.InputColumns.Count} column(s) by name, as in the file it was trained on ({Describe(model.InputColumns)}).",
            labelPurpose);

    /// <summary>
    /// Loads a data file for <paramref name="model"/>: its input columns by name (<see cref="SelectionFor"/>). A model whose
    /// input is one vector column (a library pipeline fed by a <c>TextLoader</c> range, e.g. <c>Features</c>) reads a
    /// text file without a column of that name as that vector: every column but the label, in file order, which must
    /// make exactly the vector's size.
    /// </summary>
    public static TabularData LoadData(MLContext ml, LoadedModel model, string path, string labelColumn, bool labelRequired,
        string labelPurpose, CancellationToken cancellationToken)
    {
        var selection = SelectionFor(model, labelColumn, labelRequired, labelPurpose);
        var inputs = model.InputSchema.Where(c => !c.IsHidden && !string.Equals(c.Name, labelColumn, StringComparison.OrdinalIgnoreCase)).ToList();
        bool text = DataFile.KindOf(path) == DataFile.Kind.Text; // a typed file (.idv, Parquet) has no CSV header to look in
        if (inputs is not [{ Type: VectorDataViewType { IsKnownSize: true } vector } input] || !text || LabelledCsv.HasColumn(path, input.Name))
            return DataFile.Load(ml, path, selection, cancellationToken);

        var table = DataFile.Load(ml, path, selection with { InputColumns = null }, cancellationToken);
        if (table.FeatureCount != vector.Size)
            throw new CliException(
                $"The model '{model.Path}' reads one column '{input.Name}', a vector of {vector.Size} values. '{path}' has no column of that name, " +
                $"and its {table.FeatureCount} other column(s) besides the label do not make {vector.Size} values.",
                $"Pass a file with a column '{input.Name}', or with exactly {vector.Size} numeric columns besides the label (name the label with --label-column).");
        var assembled = ml.Transforms.Concatenate(input.Name, table.FeatureColumns.ToArray()).Fit(table.Data).Transform(table.Data);
        return table with { Data = assembled, FeatureColumns = [input.Name] };
    }

    /// <summary>
    /// Scores every row. Without <paramref name="thresholdOverride"/> the model's own decision is used (models from
    /// <c>train</c>); a model without one needs the override.
    /// </summary>
    public static ScoredRows Score(LoadedModel model, TabularData data, float? thresholdOverride, bool readMu, CancellationToken cancellationToken)
    {
        CheckTypes(model, data);
        if (thresholdOverride is null && !model.HasDecision)
            throw new CliException($"The model '{model.Path}' has no anomaly threshold (it holds a VAE, not an anomaly detector).",
                "Pass --threshold <score>: rows whose reconstruction error is above it are flagged.");
        var scored = model.Detector is { } detector
            ? ScoreWithDetector(model, detector, data, thresholdOverride, readMu, cancellationToken)
            : ScoreWithVae(model, data, thresholdOverride, readMu, cancellationToken);
        RequireScores(scored.Scores, data.Path);
        return scored;
    }

    /// <summary>
    /// The library scores a row with NaN or ∞ in its features NaN (and never flags it). A text file's loader refuses such
    /// cells before scoring; a typed file (.idv, Parquet) is not scanned, so its rows are refused here, by row, alike.
    /// </summary>
    internal static void RequireScores(IReadOnlyList<float> scores, string path)
    {
        int first = -1, count = 0;
        for (int i = 0; i < scores.Count; i++)
        {
            if (!float.IsNaN(scores[i]))
                continue;
            count++;
            if (first < 0)
                first = i;
        }
        if (first >= 0)
            throw new CliException(
                $"Row {first + 1} of '{path}'{(count > 1 ? $" and {count - 1} more" : "")} has NaN or ∞ in the model's input columns, so it has no score.",
                "Replace or drop the missing and infinite values before scoring (text files with such cells are refused as they are read).");
    }

    /// <summary>The library's detector: its Score and PredictedLabel columns (at another threshold through <c>WithThreshold</c>).</summary>
    private static ScoredRows ScoreWithDetector(LoadedModel model, VaeAnomalyTransformer detector, TabularData data, float? thresholdOverride,
        bool readMu, CancellationToken cancellationToken)
    {
        var decider = thresholdOverride is { } t ? detector.WithThreshold(t) : detector;
        var featurized = model.BeforeDetector(data.Data);
        var scored = decider.Transform(featurized);
        var scores = DataViewColumns.ReadSingles(scored, decider.Options.ScoreColumnName, cancellationToken);
        var predicted = DataViewColumns.ReadBooleans(scored, decider.Options.PredictedLabelColumnName, cancellationToken);
        float[][]? mu = readMu ? DataViewColumns.ReadVectors(detector.Vae.Transform(featurized), detector.Vae.Options.MuColumnName, cancellationToken) : null;
        return new ScoredRows(mu, scores, predicted, decider.Threshold, thresholdOverride is null ? "stored in the model" : "--threshold");
    }

    /// <summary>A VAE alone (its reconstruction error), or a model from an earlier <c>train</c> (its Score/PredictedLabel/Threshold stage).</summary>
    private static ScoredRows ScoreWithVae(LoadedModel model, TabularData data, float? thresholdOverride, bool readMu, CancellationToken cancellationToken)
    {
        var scored = model.Pipeline.Transform(data.Data);
        var schema = scored.Schema;
        var muColumn = schema[model.Vae.Options.MuColumnName];
        var scoreColumn = schema[model.ScoreColumn];
        var columns = new List<DataViewSchema.Column> { scoreColumn };
        if (readMu)
            columns.Add(muColumn);
        bool useModel = thresholdOverride is null;
        if (useModel)
        {
            columns.Add(schema[AnomalyPipeline.PredictedLabelColumn]);
            columns.Add(schema[AnomalyPipeline.LegacyThresholdColumn]);
        }

        var mu = readMu ? new List<float[]>() : null;
        var scores = new List<float>();
        var predicted = new List<bool>();
        float threshold = thresholdOverride ?? float.NaN;
        using (var cursor = scored.GetRowCursor(columns))
        {
            var scoreGetter = cursor.GetGetter<float>(scoreColumn);
            var muGetter = readMu ? cursor.GetGetter<VBuffer<float>>(muColumn) : null;
            var predictedGetter = useModel ? cursor.GetGetter<bool>(schema[AnomalyPipeline.PredictedLabelColumn]) : null;
            var thresholdGetter = useModel ? cursor.GetGetter<float>(schema[AnomalyPipeline.LegacyThresholdColumn]) : null;
            float score = 0, rowThreshold = 0;
            bool flag = false;
            var vector = default(VBuffer<float>);
            while (cursor.MoveNext())
            {
                if ((cursor.Position & 0x3ff) == 0)
                    cancellationToken.ThrowIfCancellationRequested();
                scoreGetter(ref score);
                scores.Add(score);
                if (muGetter is not null)
                {
                    muGetter(ref vector);
                    mu!.Add(vector.DenseValues().ToArray());
                }
                if (useModel)
                {
                    predictedGetter!(ref flag);
                    thresholdGetter!(ref rowThreshold);
                    predicted.Add(flag);
                    threshold = rowThreshold;
                }
                else
                {
                    predicted.Add(score > threshold);
                }
            }
        }
        string source = useModel ? "stored in the model" : "--threshold";
        return new ScoredRows(mu?.ToArray(), scores.ToArray(), predicted.ToArray(), threshold, source);
    }

    /// <summary>The data's columns must have the types the model was trained on (a CSV gives Single columns).</summary>
    private static void CheckTypes(LoadedModel model, TabularData data)
    {
        foreach (var column in model.InputSchema.Where(c => !c.IsHidden))
        {
            var actual = data.Data.Schema.GetColumnOrNull(column.Name);
            if (actual is { } a && !a.Type.Equals(column.Type))
                throw new CliException(
                    $"The column '{column.Name}' of '{data.Path}' is {a.Type}; the model '{model.Path}' was trained on {column.Type}.",
                    "Score data in the same format and with the same columns as the training data.");
        }
    }

    private static string Describe(IReadOnlyList<string> names) =>
        names.Count <= 6 ? string.Join(", ", names) : $"{string.Join(", ", names.Take(4))}, ..., {names[^1]}";
}
