using MLNetVae.Cli.Evaluation;
using ScottPlot;

namespace MLNetVae.Cli.Output;

/// <summary>The PNG plots of the CLI (ScottPlot, rendered off-screen).</summary>
internal static class Plots
{
    private const int Width = 900;
    private const int Height = 650;

    /// <summary>The 2-D projection of the latent means, normal rows and labelled anomalies in two colours.</summary>
    public static void Latent(string path, Projection2D projection, float[] labels, string title)
    {
        var plot = new Plot();
        var normal = Enumerable.Range(0, labels.Length).Where(i => labels[i] != 1f).ToArray();
        var anomalies = Enumerable.Range(0, labels.Length).Where(i => labels[i] == 1f).ToArray();

        var normalPoints = plot.Add.ScatterPoints(
            normal.Select(i => projection.X[i]).ToArray(), normal.Select(i => projection.Y[i]).ToArray(),
            Colors.SteelBlue.WithAlpha(0.55));
        normalPoints.MarkerSize = 5;
        normalPoints.LegendText = $"normal (label 0, n = {normal.Length})";

        var anomalyPoints = plot.Add.ScatterPoints(
            anomalies.Select(i => projection.X[i]).ToArray(), anomalies.Select(i => projection.Y[i]).ToArray(),
            Colors.Crimson);
        anomalyPoints.MarkerShape = MarkerShape.FilledDiamond;
        anomalyPoints.MarkerSize = 9;
        anomalyPoints.LegendText = $"anomaly (label 1, n = {anomalies.Length})";

        plot.Title(title);
        plot.XLabel($"PC 1 of Mu ({Format.Percent(Math.Round(projection.ExplainedX, 2))} of latent variance)");
        plot.YLabel($"PC 2 of Mu ({Format.Percent(Math.Round(projection.ExplainedY, 2))} of latent variance)");
        // Below the plot, so it never hides a point: scatter plots have points in every corner.
        plot.ShowLegend(Edge.Bottom);
        Save(plot, path);
    }

    /// <summary>Training and validation loss per epoch, with the epoch whose weights were kept marked.</summary>
    public static void Loss(string path, VaeTrainingReport report, string title)
    {
        var plot = new Plot();
        var epochs = report.Epochs.Select(e => (double)e.Epoch).ToArray();

        var train = plot.Add.Scatter(epochs, report.Epochs.Select(e => e.TrainLoss).ToArray(), Colors.SteelBlue);
        train.LegendText = "training loss";
        train.LineWidth = 2;
        train.MarkerSize = 4;

        var validated = report.Epochs.Where(e => e.ValidationLoss is not null).ToArray();
        if (validated.Length > 0)
        {
            var validation = plot.Add.Scatter(
                validated.Select(e => (double)e.Epoch).ToArray(), validated.Select(e => e.ValidationLoss!.Value).ToArray(),
                Colors.DarkOrange);
            validation.LegendText = "validation loss";
            validation.LineWidth = 2;
            validation.MarkerSize = 4;
        }

        if (report.BestEpoch > 0)
        {
            var best = plot.Add.VerticalLine(report.BestEpoch, 1, Colors.Gray);
            best.LinePattern = LinePattern.Dashed;
            best.LegendText = $"kept weights (epoch {report.BestEpoch})";
        }

        plot.Title(title);
        plot.XLabel("Epoch");
        plot.YLabel("Loss per row (reconstruction + β·KL)");
        plot.ShowLegend(Alignment.UpperRight);
        Save(plot, path);
    }

    /// <summary>
    /// The distribution of anomaly scores for normal rows and labelled anomalies, each as a share of its own rows (so the
    /// few anomalies stay visible next to the many normal rows), with the threshold marked.
    /// </summary>
    public static void ScoreHistogram(string path, float[] scores, float[] labels, double threshold, string scoreName, string title, int bins = 40)
    {
        var plot = new Plot();
        var axis = HistogramAxis.For(scores, threshold, bins);
        var (min, width, toAxis, logScale) = (axis.Min, axis.Width, axis.ToAxis, axis.LogScale);

        void AddClass(Func<float, bool> isClass, Color color, string legend)
        {
            var values = scores.Where((_, i) => isClass(labels[i])).ToArray();
            if (values.Length == 0)
                return;
            var counts = new double[bins];
            foreach (var v in values)
                counts[axis.BinOf(v)]++;
            var bars = plot.Add.Bars(
                Enumerable.Range(0, bins).Select(b => min + (b + 0.5) * width).ToArray(),
                counts.Select(c => c / values.Length).ToArray());
            foreach (var bar in bars.Bars)
            {
                bar.Size = width;
                bar.FillColor = color.WithAlpha(0.55);
                bar.LineWidth = 0;
            }
            int infinite = values.Count(float.IsPositiveInfinity);
            bars.LegendText = $"{legend} (n = {values.Length}{(infinite > 0 ? $", {infinite} at +∞ in the last bar" : "")})";
        }

        AddClass(l => l != 1f, Colors.SteelBlue, "normal (label 0)");
        AddClass(l => l == 1f, Colors.Crimson, "anomaly (label 1)");
        var line = plot.Add.VerticalLine(toAxis(threshold), 2, Colors.Black);
        line.LinePattern = LinePattern.Dashed;
        line.LegendText = $"threshold {threshold.ToString("G4", System.Globalization.CultureInfo.InvariantCulture)}";

        if (logScale)
        {
            plot.Axes.Bottom.TickGenerator = new ScottPlot.TickGenerators.NumericAutomatic
            {
                LabelFormatter = x => Math.Pow(10, x).ToString("G2", System.Globalization.CultureInfo.InvariantCulture),
            };
        }
        plot.Axes.Margins(bottom: 0);
        plot.Title(title);
        plot.XLabel(logScale ? scoreName + ", log scale" : scoreName);
        plot.YLabel("Share of the rows of each label");
        plot.ShowLegend(Alignment.UpperRight);
        Save(plot, path);
    }

    /// <summary>The ROC curve of the scores, the chance diagonal, and the operating point of the threshold.</summary>
    public static void Roc(string path, RocPoints roc, double auc, double thresholdFpr, double thresholdTpr, string thresholdText, string title)
    {
        var plot = new Plot();
        var chance = plot.Add.Line(0, 0, 1, 1);
        chance.Color = Colors.Gray;
        chance.LinePattern = LinePattern.Dashed;
        chance.LegendText = "chance (AUC 0.5)";

        var curve = plot.Add.ScatterLine(roc.FalsePositiveRate, roc.TruePositiveRate, Colors.SteelBlue);
        curve.LineWidth = 2;
        curve.LegendText = $"VAE reconstruction error (AUC {auc:0.000})";

        var point = plot.Add.Scatter(thresholdFpr, thresholdTpr, Colors.Crimson);
        point.MarkerSize = 11;
        point.MarkerShape = MarkerShape.FilledCircle;
        point.LegendText = thresholdText;

        plot.Axes.SetLimits(-0.02, 1.02, -0.02, 1.02);
        plot.Title(title);
        plot.XLabel("False-positive rate (normal rows flagged)");
        plot.YLabel("True-positive rate (anomalies flagged)");
        plot.ShowLegend(Alignment.LowerRight);
        Save(plot, path);
    }

    private static void Save(Plot plot, string path)
    {
        // Write next to the target and move into place, so a failed render never leaves half a PNG behind.
        string temp = path + ".tmp";
        try
        {
            plot.SavePng(temp, Width, Height);
            File.Move(temp, path, overwrite: true);
        }
        finally
        {
            if (File.Exists(temp))
                File.Delete(temp);
        }
    }
}

/// <summary>
/// The score histogram's bins. Reconstruction errors are skewed (a few rows far out), so they are binned on a log scale
/// when they span over a decade. The range is that of the finite scores and the threshold: a +∞ score (a row so far
/// out that its error overflows float32) counts in the last bin.
/// </summary>
internal sealed record HistogramAxis(double Min, double Width, int Bins, bool LogScale)
{
    public Func<double, double> ToAxis => AxisFunction(LogScale);

    private static Func<double, double> AxisFunction(bool logScale) => logScale ? Math.Log10 : x => x;

    public static HistogramAxis For(float[] scores, double threshold, int bins)
    {
        var finite = scores.Where(float.IsFinite).DefaultIfEmpty((float)threshold).ToArray();
        double low = Math.Min(finite.Min(), threshold), high = Math.Max(finite.Max(), threshold);
        bool logScale = low > 0 && high / low > 10;
        var toAxis = AxisFunction(logScale);
        double min = toAxis(low), max = toAxis(high);
        if (max <= min)
            max = min + 1;
        return new HistogramAxis(min, (max - min) / bins, bins, logScale);
    }

    public int BinOf(float score) =>
        float.IsFinite(score) ? Math.Clamp((int)((ToAxis(score) - Min) / Width), 0, Bins - 1) : Bins - 1;
}
