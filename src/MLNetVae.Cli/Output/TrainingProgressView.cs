using System.Globalization;
using Spectre.Console;
using Spectre.Console.Rendering;

namespace MLNetVae.Cli.Output;

/// <summary>
/// Shows <see cref="VaeEpochReport"/>s while a VAE trains: a live Spectre progress bar on a terminal, one plain line
/// every few epochs when the output is redirected (logs, CI, tests).
/// </summary>
internal static class TrainingProgressView
{
    /// <summary>
    /// Runs <paramref name="train"/>, handing it the <see cref="IProgress{T}"/> to put in <see cref="VaeTrainingOptions.Progress"/>.
    /// <paramref name="totalEpochs"/> is the most epochs there can be (the bar's length until the first report gives the
    /// count the detector chose).
    /// </summary>
    public static T Run<T>(IAnsiConsole console, int totalEpochs, Func<IProgress<VaeEpochReport>, T> train)
    {
        if (!console.Profile.Capabilities.Interactive)
            return RunPlain(console, totalEpochs, train);

        return console.Progress()
            .AutoClear(false)
            .HideCompleted(false)
            .Columns(
                new SpinnerColumn(),
                new TaskDescriptionColumn { Alignment = Justify.Left },
                new ProgressBarColumn { Width = 15 },
                new PercentageColumn(),
                new TimeLeftColumn())
            .Start(progressContext =>
            {
                var task = progressContext.AddTask("[grey]starting...[/]", maxValue: totalEpochs);
                var result = train(new Reporter(report =>
                {
                    task.MaxValue = report.TotalEpochs;
                    task.Value = report.Epoch;
                    task.Description = Markup.Escape(Describe(report));
                }));
                task.Value = task.MaxValue;
                task.StopTask();
                return result;
            });
    }

    private static T RunPlain<T>(IAnsiConsole console, int totalEpochs, Func<IProgress<VaeEpochReport>, T> train)
    {
        return train(new Reporter(report =>
        {
            int total = report.TotalEpochs > 0 ? report.TotalEpochs : totalEpochs;
            int every = Math.Max(1, total / 10);
            if (report.Epoch == 1 || report.Epoch % every == 0 || report.Epoch == total)
            {
                double secondsLeft = report.Elapsed.TotalSeconds / report.Epoch * (total - report.Epoch);
                console.WriteLine(Describe(report) + FormattableString.Invariant($"  {report.Elapsed.TotalSeconds:0}s, ≤{secondsLeft:0}s left"));
            }
        }));
    }

    /// <summary>One status line: epoch, training loss, validation loss, speed.</summary>
    internal static string Describe(VaeEpochReport report)
    {
        var text = string.Create(CultureInfo.InvariantCulture,
            $"epoch {report.Epoch,3}/{report.TotalEpochs} loss {report.TrainLoss,6:0.0}");
        if (report.ValidationLoss is { } validation)
            text += string.Create(CultureInfo.InvariantCulture, $" val {validation,6:0.0}{(report.IsBest ? "*" : " ")}");
        return text + string.Create(CultureInfo.InvariantCulture, $" {report.SamplesPerSecond,5:F0} rows/s");
    }

    /// <summary>"~12s left" from Spectre's speed estimate (epochs per second), "done" at the end.</summary>
    private sealed class TimeLeftColumn : ProgressColumn
    {
        public override IRenderable Render(RenderOptions options, ProgressTask task, TimeSpan deltaTime)
        {
            if (task.IsFinished)
                return new Markup("[green]done[/]     ");
            if (task.RemainingTime is not { } left || task.Value == 0)
                return new Markup("[grey]   -     [/]");
            string text = left.TotalSeconds < 100 ? $"~{left.TotalSeconds:0}s left" : $"~{left.TotalMinutes:0}m left";
            return new Markup($"[blue]{text,-9}[/]");
        }

        public override int? GetColumnWidth(RenderOptions options) => 9;
    }

    /// <summary>Calls back synchronously on the training thread, in order (unlike <see cref="Progress{T}"/>, which posts to the thread pool).</summary>
    private sealed class Reporter(Action<VaeEpochReport> onReport) : IProgress<VaeEpochReport>
    {
        public void Report(VaeEpochReport value) => onReport(value);
    }
}
