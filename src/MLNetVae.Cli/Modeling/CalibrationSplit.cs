using Microsoft.ML;
using MLNetVae.Cli.Data;
using MLNetVae.Cli.Infrastructure;

namespace MLNetVae.Cli.Modeling;

/// <summary>
/// The rows <c>mlnetvae train</c> trains on and the rows it sets the anomaly threshold on. A model reconstructs the
/// rows it was fitted on better than rows it has not seen, so a threshold taken from its training rows flags more than
/// <c>--contamination</c> of new data; a quantile of held-out rows does not have that bias. The split is ML.NET's
/// seeded <c>TrainTestSplit</c> (streaming views, nothing copied).
/// </summary>
/// <param name="Training">The rows to train on.</param>
/// <param name="Calibration">The held-out rows (the training rows when nothing is held out).</param>
/// <param name="TrainingRowCount">Rows in <paramref name="Training"/>.</param>
/// <param name="CalibrationRowCount">Rows held out; 0 when nothing is.</param>
/// <param name="CalibrationLabels">The labels of the rows of <paramref name="Calibration"/>, in its order; null without a label column.</param>
internal sealed record CalibrationSplit(IDataView Training, IDataView Calibration, int TrainingRowCount, int CalibrationRowCount, float[]? CalibrationLabels)
{
    /// <summary>Fewest held-out rows a threshold is taken from: below this one row moves the quantile too far.</summary>
    public const int MinimumCalibrationRows = 20;

    public bool HoldsOut => CalibrationRowCount > 0;

    /// <summary>
    /// Holds out about <paramref name="fraction"/> of the rows of <paramref name="featurized"/>, chosen at random
    /// (seeded); fraction 0 holds out none and calibrates on the training rows.
    /// </summary>
    /// <exception cref="CliException">The fraction leaves fewer than <see cref="MinimumCalibrationRows"/> held-out rows, or fewer training rows than that.</exception>
    public static CalibrationSplit Create(MLContext ml, TabularData data, IDataView featurized, double fraction, int seed, CancellationToken cancellationToken)
    {
        if (fraction <= 0)
            return new CalibrationSplit(featurized, featurized, data.RowCount, 0, data.Labels);

        var split = ml.Data.TrainTestSplit(featurized, testFraction: fraction, seed: seed);
        int held = DataFile.CountRows(split.TestSet, cancellationToken), kept = DataFile.CountRows(split.TrainSet, cancellationToken);
        if (held < MinimumCalibrationRows || kept < MinimumCalibrationRows)
            throw new CliException(
                $"--calibration-fraction {fraction.ToString(System.Globalization.CultureInfo.InvariantCulture)} of {held + kept} rows leaves {held} rows to set the threshold on " +
                $"and {kept} to train on; each needs at least {MinimumCalibrationRows}.",
                "Use more data, another --calibration-fraction, or --calibration-fraction 0 to set the threshold on the training rows (it then flags more than --contamination of new data).");
        float[]? labels = data.LabelColumn is { } label
            ? DataFile.ReadLabels(split.TestSet, split.TestSet.Schema[label], data.Path, cancellationToken)
            : null;
        return new CalibrationSplit(split.TrainSet, split.TestSet, kept, held, labels);
    }
}
