using MLNetVae.Cli.Data;
using MLNetVae.Cli.Evaluation;
using MLNetVae.Cli.Output;

namespace MLNetVae.Cli.Commands;

/// <summary>The content of the demo's report.json.</summary>
internal sealed record DemoReport(
    string Tool,
    string Version,
    DateTimeOffset CreatedUtc,
    DemoReport.DataInfo Data,
    DemoReport.VaeInfo Vae,
    DemoReport.PcaInfo Pca,
    DemoReport.PcaInfo PcaReconstructionError,
    DemoReport.IsolationForestInfo IsolationForest,
    DemoReport.ProjectionInfo LatentProjection,
    double TotalSeconds)
{
    internal sealed record DataInfo(string Path, int Rows, int Features, int Anomalies, string Protocol);

    internal sealed record VaeInfo(VaeSettings Options, TrainingInfo Training, AnomalyResult Result);

    internal sealed record PcaInfo(int Rank, int Seed, string Score, AnomalyResult Result);

    /// <summary>scikit-learn's IsolationForest on the same rows; <c>Result</c> null and <c>Skipped</c> the reason when it could not run.</summary>
    internal sealed record IsolationForestInfo(int Seed, string Implementation, AnomalyResult? Result, string? Skipped);

    internal sealed record ProjectionInfo(string Method, double ExplainedVarianceX, double ExplainedVarianceY);

    public static DemoReport Create(string dataPath, LabelledData data, VaeOptions options, VaeTrainingReport training,
        AnomalyResult vae, int pcaRank, int pcaSeed, AnomalyResult pca, AnomalyResult pcaError, AnomalyResult? forest, string? forestSkipped, Projection2D projection, double totalSeconds) => new(
        "mlnetvae demo",
        typeof(DemoReport).Assembly.GetName().Version?.ToString(3) ?? "unknown",
        DateTimeOffset.UtcNow,
        new DataInfo(dataPath, data.RowCount, data.FeatureCount, data.AnomalyCount,
            "unsupervised: every model is fitted on all rows without labels; labels are used only to compute the metrics"),
        new VaeInfo(VaeSettings.From(options), TrainingInfo.From(training), vae),
        new PcaInfo(pcaRank, pcaSeed, "ML.NET RandomizedPca Score (residual norm / norm of the centred row) on mean-variance normalized features", pca),
        new PcaInfo(pcaRank, pcaSeed, "squared residual of the same RandomizedPca model: distance² of the centred row to the principal subspace", pcaError),
        new IsolationForestInfo(pcaSeed, "scikit-learn IsolationForest, its defaults (scripts/isolation_forest.py), on the same standardized rows", forest, forestSkipped),
        new ProjectionInfo("PCA of Mu (covariance power iteration)", projection.ExplainedX, projection.ExplainedY),
        totalSeconds);
}
