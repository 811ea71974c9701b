using Microsoft.ML;
using Microsoft.ML.Data;
using MLNetVae.Cli.Data;
using MLNetVae.Cli.Infrastructure;

namespace MLNetVae.Cli.Modeling;

/// <summary>
/// The rows <c>mlnetvae train</c> trains on and the rows it sets the anomaly threshold on. A model reconstructs the
/// rows it was fitted on better than rows it has not seen, so a threshold taken from its training rows flags more than
/// <c>--contamination</c> of new data; a quantile of held-out rows does not have that bias.
/// </summary>
/// <param name="Training">The training rows' <c>Features</c> column.</param>
/// <param name="Calibration">The held-out rows' <c>Features</c> column (the training rows when nothing is held out).</param>
/// <param name="CalibrationRows">The held-out rows' positions in the data file, ascending; empty when nothing is held out.</param>
/// <param name="TrainingRows">The training rows' positions in the data file, ascending.</param>
internal sealed record CalibrationSplit(IDataView Training, IDataView Calibration, int[] TrainingRows, int[] CalibrationRows)
{
    /// <summary>Fewest held-out rows a threshold is taken from: below this one row moves the quantile too far.</summary>
    public const int MinimumCalibrationRows = 20;

    public bool HoldsOut => CalibrationRows.Length > 0;

    /// <summary>
    /// Holds out round(<paramref name="fraction"/> · rows) rows chosen at random (seeded); fraction 0 holds out none
    /// and calibrates on the training rows.
    /// </summary>
    /// <exception cref="CliException">The fraction leaves fewer than <see cref="MinimumCalibrationRows"/> held-out rows, or fewer training rows than that.</exception>
    public static CalibrationSplit Create(MLContext ml, IDataView featurized, double fraction, int seed, CancellationToken cancellationToken)
    {
        var rows = DataViewColumns.ReadVectors(featurized, AnomalyPipeline.FeaturesColumn, cancellationToken);
        var all = Enumerable.Range(0, rows.Length).ToArray();
        if (fraction <= 0)
            return new CalibrationSplit(featurized, featurized, all, Array.Empty<int>());

        int held = (int)Math.Round(fraction * rows.Length);
        if (held < MinimumCalibrationRows || rows.Length - held < MinimumCalibrationRows)
            throw new CliException(
                $"--calibration-fraction {fraction.ToString(System.Globalization.CultureInfo.InvariantCulture)} of {rows.Length} rows leaves {held} rows to set the threshold on " +
                $"and {rows.Length - held} to train on; each needs at least {MinimumCalibrationRows}.",
                "Use more data, another --calibration-fraction, or --calibration-fraction 0 to set the threshold on the training rows (it then flags more than --contamination of new data).");

        var shuffled = (int[])all.Clone();
        new Random(seed).Shuffle(shuffled);
        var calibration = shuffled[..held];
        var training = shuffled[held..];
        Array.Sort(calibration);
        Array.Sort(training);
        int width = rows[0].Length;
        return new CalibrationSplit(View(ml, rows, training, width), View(ml, rows, calibration, width), training, calibration);
    }

    private static IDataView View(MLContext ml, float[][] rows, int[] positions, int width)
    {
        var schema = SchemaDefinition.Create(typeof(FeatureRow));
        schema[nameof(FeatureRow.Features)].ColumnType = new VectorDataViewType(NumberDataViewType.Single, width);
        return ml.Data.LoadFromEnumerable(positions.Select(p => new FeatureRow { Features = rows[p] }).ToList(), schema);
    }

    private sealed class FeatureRow
    {
        public float[] Features { get; set; } = Array.Empty<float>();
    }
}
