using MLNetVae;
using MLNetVae.MLNet;

namespace Microsoft.ML;

/// <summary>
/// Entry points of MLNetVae on ML.NET's catalogs, in the <c>Microsoft.ML</c> namespace like ML.NET's own
/// extension packages, so <c>mlContext.Transforms.VariationalAutoencoder(...)</c> needs no extra using.
/// </summary>
public static class VaeCatalog
{
    /// <summary>
    /// A variational autoencoder trained on <see cref="VaeOptions.InputColumnName"/>; the fitted transformer adds the
    /// latent mean and log-variance, the reconstruction and the reconstruction error.
    /// </summary>
    /// <param name="catalog">The transforms catalog, <c>mlContext.Transforms</c>.</param>
    /// <param name="options">Sizes, schedule and column names; validated here, before any training.</param>
    public static VaeEstimator VariationalAutoencoder(this TransformsCatalog catalog, VaeOptions options)
    {
        ArgumentNullException.ThrowIfNull(catalog);
        return new VaeEstimator(HostEnvironmentAccess.FromCatalog(catalog), options);
    }

    /// <summary>A variational autoencoder with the most used options; see <see cref="VaeOptions"/> for all of them.</summary>
    /// <param name="catalog">The transforms catalog, <c>mlContext.Transforms</c>.</param>
    /// <param name="inputColumnName">Known-size vector of Single to encode.</param>
    /// <param name="latentDim">Size of the latent space.</param>
    /// <param name="hiddenDim">Width of the hidden layers.</param>
    /// <param name="epochs">Maximum number of epochs.</param>
    public static VaeEstimator VariationalAutoencoder(this TransformsCatalog catalog,
        string inputColumnName = VaeOptions.Defaults.InputColumnName,
        int latentDim = VaeOptions.Defaults.LatentDim,
        int hiddenDim = VaeOptions.Defaults.HiddenDim,
        int epochs = VaeOptions.Defaults.Epochs) =>
        catalog.VariationalAutoencoder(new VaeOptions
        {
            InputColumnName = inputColumnName,
            LatentDim = latentDim,
            HiddenDim = hiddenDim,
            Epochs = epochs,
        });
    /// <summary>
    /// Unsupervised anomaly detection with a variational autoencoder. The fitted transformer adds a score column (Single,
    /// higher = more anomalous) and a predicted label column (Boolean), ready for <c>mlContext.AnomalyDetection.Evaluate</c>.
    /// </summary>
    /// <param name="catalog">The anomaly detection trainers, <c>mlContext.AnomalyDetection.Trainers</c>.</param>
    /// <param name="options">Training, scoring and threshold options; validated here, before any training.</param>
    public static VaeAnomalyEstimator VariationalAutoencoder(this AnomalyDetectionCatalog.AnomalyDetectionTrainers catalog, VaeAnomalyOptions options)
    {
        ArgumentNullException.ThrowIfNull(catalog);
        return new VaeAnomalyEstimator(HostEnvironmentAccess.FromCatalog(catalog), options);
    }

    /// <summary>A VAE anomaly detector with the most used options; see <see cref="VaeAnomalyOptions"/> for all of them.</summary>
    /// <param name="catalog">The anomaly detection trainers, <c>mlContext.AnomalyDetection.Trainers</c>.</param>
    /// <param name="featureColumnName">Known-size vector of Single to score.</param>
    /// <param name="contamination">Expected fraction of anomalies among the training rows, in (0, 0.5]; sets the threshold.</param>
    public static VaeAnomalyEstimator VariationalAutoencoder(this AnomalyDetectionCatalog.AnomalyDetectionTrainers catalog,
        string featureColumnName = VaeAnomalyOptions.Defaults.FeatureColumnName,
        double contamination = VaeAnomalyOptions.Defaults.Contamination) =>
        catalog.VariationalAutoencoder(new VaeAnomalyOptions { FeatureColumnName = featureColumnName, Contamination = contamination });
}
