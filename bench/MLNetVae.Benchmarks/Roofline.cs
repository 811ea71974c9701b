using System.Diagnostics;
using System.Globalization;
using System.Text.Json.Nodes;
using static TorchSharp.torch;

namespace MLNetVae.Benchmarks;

/// <summary>
/// The machine's limit every throughput is compared with. <c>peak</c> measures the float32 GEMM rate of this machine
/// (libtorch's <c>mm</c> on square matrices, the threads of the run) once per bench.sh run; the report turns every
/// rows/s into GFLOP/s with <see cref="ForwardFlopsPerRow"/> or <see cref="TrainedFlopsPerRow"/> and into a share of
/// that peak.
/// </summary>
internal static class Roofline
{
    /// <summary>FLOPs of one forward pass of a row: 2 per multiply-add of the six linear layers (bias and activations are negligible).</summary>
    public static double ForwardFlopsPerRow(int dim, int hidden, int latent) =>
        2.0 * ((double)dim * hidden + (double)hidden * hidden + hidden * 2.0 * latent + (double)latent * hidden + (double)hidden * hidden + (double)hidden * dim);

    /// <summary>FLOPs of training on a row: forward, and backward for inputs and weights (twice the forward).</summary>
    public static double TrainedFlopsPerRow(int dim, int hidden, int latent) => 3 * ForwardFlopsPerRow(dim, hidden, latent);

    /// <summary>Float32 peak of FINDINGS.md for this machine kind, used only when a run has no <c>peak</c> record.</summary>
    public const double DocumentedPeakGflops = 218;

    public static int Peak(int threads, int[] sizes, int reps, string resultsPath)
    {
        MLNetVae.Training.Native.LibTorchSharpLoader.EnsureLoadable();
        set_num_threads(threads);
        Console.WriteLine($"peak: float32 GEMM (libtorch mm, {threads} threads), n = {string.Join(", ", sizes)}, best of {reps}");
        var record = ResultsFile.NewRecord("peak", null);
        record["settings"] = new JsonObject { ["threads"] = threads, ["reps"] = reps };
        var results = new JsonArray();
        double best = 0;
        foreach (int n in sizes)
        {
            using var a = randn(n, n);
            using var b = randn(n, n);
            using (mm(a, b)) { } // warm-up: the BLAS threads and their buffers
            double rate = 0;
            for (int rep = 0; rep < reps; rep++)
            {
                long start = Stopwatch.GetTimestamp();
                using (mm(a, b)) { }
                double seconds = Timing.Seconds(start);
                rate = Math.Max(rate, 2.0 * n * n * (double)n / seconds / 1e9);
            }
            best = Math.Max(best, rate);
            Console.WriteLine(string.Create(CultureInfo.InvariantCulture, $"  n = {n,5}: {rate:F0} GFLOP/s"));
            results.Add(new JsonObject { ["n"] = n, ["gflops"] = rate });
        }
        Console.WriteLine(string.Create(CultureInfo.InvariantCulture, $"float32 peak (best GEMM): {best:F0} GFLOP/s"));
        record["gemm"] = results;
        record["peak_gflops"] = best;
        ResultsFile.Append(resultsPath, record);
        return 0;
    }

    /// <summary>The run's measured peak and where it came from.</summary>
    public static (double Gflops, string Source) PeakOf(IEnumerable<JsonObject> records) =>
        records.LastOrDefault(r => (string?)r["kind"] == "peak") is { } peak
            ? ((double)peak["peak_gflops"]!, "measured in this run by a float32 GEMM")
            : (DocumentedPeakGflops, "FINDINGS.md's figure; this run measured none");

    /// <summary>"123 GFLOP/s (56%)" for <paramref name="rowsPerSecond"/> rows of <paramref name="flopsPerRow"/> each.</summary>
    public static string Format(double rowsPerSecond, double flopsPerRow, double peakGflops)
    {
        double gflops = rowsPerSecond * flopsPerRow / 1e9;
        return string.Create(CultureInfo.InvariantCulture, $"{gflops:F0} GFLOP/s ({100 * gflops / peakGflops:F0}%)");
    }
}
