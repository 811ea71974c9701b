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
        plot.ShowLegend(Alignment.UpperRight);
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
