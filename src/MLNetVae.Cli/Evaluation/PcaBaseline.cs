using System.Diagnostics;
using Microsoft.ML;
using Microsoft.ML.Data;
using Microsoft.ML.Trainers;
using MLNetVae.Cli.Data;

namespace MLNetVae.Cli.Evaluation;

/// <summary>Scores of the PCA baseline for every row (higher = more anomalous), and how long it took.</summary>
/// <param name="MlNetScores">ML.NET's <c>Score</c> column: the residual norm divided by the norm of the centred row.</param>
/// <param name="ReconstructionErrors">The same model's squared residual: distance² of the centred row to the principal subspace.</param>
internal sealed record PcaScores(float[] MlNetScores, float[] ReconstructionErrors, int Rank, double TrainSeconds, double ScoreSeconds);

/// <summary>
/// ML.NET's randomized-PCA anomaly detector, the baseline every VAE result is shown next to. Features are
/// standardized first (mean-variance), as ML.NET requires for this trainer and as the VAE does by default.
/// </summary>
internal static class PcaBaseline
{
    /// <summary>Fits <c>NormalizeMeanVariance</c> + <c>RandomizedPca</c> on the same rows (labels unused) and scores every row.</summary>
    public static PcaScores FitAndScore(MLContext ml, LabelledData data, int rank, int seed, CancellationToken cancellationToken)
    {
        int effectiveRank = Math.Min(rank, data.FeatureCount);
        var clock = Stopwatch.StartNew();
        var normalizer = ml.Transforms.NormalizeMeanVariance(LabelledCsv.FeaturesColumn).Fit(data.Data);
        var normalized = ml.Data.Cache(normalizer.Transform(data.Data));
        var pca = ml.AnomalyDetection.Trainers.RandomizedPca(
            featureColumnName: LabelledCsv.FeaturesColumn, rank: effectiveRank, ensureZeroMean: true, seed: seed).Fit(normalized);
        double trainSeconds = clock.Elapsed.TotalSeconds;
        cancellationToken.ThrowIfCancellationRequested();

        clock.Restart();
        var mlNetScores = DataViewColumns.ReadSingles(pca.Transform(normalized), "Score", cancellationToken);
        var errors = ReconstructionErrors(pca.Model,
            DataViewColumns.ReadVectors(normalized, LabelledCsv.FeaturesColumn, cancellationToken));
        return new PcaScores(mlNetScores, errors, effectiveRank, trainSeconds, clock.Elapsed.TotalSeconds);
    }

    /// <summary>‖x − m − V Vᵀ (x − m)‖² for every row, with the model's mean m and orthonormal eigenvectors V.</summary>
    private static float[] ReconstructionErrors(PcaModelParameters model, float[][] rows)
    {
        VBuffer<float>[] vectors = [];
        model.GetEigenVectors(ref vectors, out int rank);
        var basis = vectors.Take(rank).Select(v => v.DenseValues().ToArray()).ToArray();
        var meanBuffer = default(VBuffer<float>);
        model.GetMean(ref meanBuffer);
        var mean = meanBuffer.Length == 0 ? null : meanBuffer.DenseValues().ToArray();

        var errors = new float[rows.Length];
        var centred = new double[rows.Length == 0 ? 0 : rows[0].Length];
        for (int i = 0; i < rows.Length; i++)
        {
            var row = rows[i];
            double norm2 = 0;
            for (int j = 0; j < centred.Length; j++)
            {
                centred[j] = row[j] - (mean?[j] ?? 0);
                norm2 += centred[j] * centred[j];
            }
            double projected2 = 0;
            foreach (var v in basis)
            {
                double dot = 0;
                for (int j = 0; j < centred.Length; j++)
                    dot += v[j] * centred[j];
                projected2 += dot * dot;
            }
            errors[i] = (float)Math.Max(0, norm2 - projected2);
        }
        return errors;
    }
}
