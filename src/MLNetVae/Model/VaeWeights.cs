namespace MLNetVae.Model;

/// <summary>
/// A trained VAE as plain arrays: the fixed architecture of VaeOptions' remarks (three linear layers each way),
/// the weights, and the optional input standardization. Produced by training, consumed by ONNX
/// export and persistence.
/// </summary>
/// <remarks>
/// Encoder: in→hidden, ReLU, hidden→hidden, ReLU, hidden→2·latent (first half mu, second half logvar).
/// Decoder: latent→hidden, ReLU, hidden→hidden, ReLU, hidden→in.
/// </remarks>
internal sealed class VaeWeights
{
    public const int LayersPerNetwork = 3;

    public VaeWeights(LinearLayerWeights[] encoder, LinearLayerWeights[] decoder, FeatureStandardization? standardization)
    {
        ArgumentNullException.ThrowIfNull(encoder);
        ArgumentNullException.ThrowIfNull(decoder);
        if (encoder.Length != LayersPerNetwork || decoder.Length != LayersPerNetwork)
            throw new ArgumentException($"The encoder and decoder each need {LayersPerNetwork} layers.");
        InputDim = encoder[0].InputSize;
        HiddenDim = encoder[0].OutputSize;
        if (encoder[2].OutputSize % 2 != 0)
            throw new ArgumentException("The last encoder layer must output 2·latent values (mu and logvar).");
        LatentDim = encoder[2].OutputSize / 2;
        CheckShape(encoder[1], HiddenDim, HiddenDim, "encoder layer 2");
        CheckShape(encoder[2], HiddenDim, 2 * LatentDim, "encoder layer 3");
        CheckShape(decoder[0], LatentDim, HiddenDim, "decoder layer 1");
        CheckShape(decoder[1], HiddenDim, HiddenDim, "decoder layer 2");
        CheckShape(decoder[2], HiddenDim, InputDim, "decoder layer 3");
        if (standardization is not null && standardization.Dimension != InputDim)
            throw new ArgumentException($"Standardization has {standardization.Dimension} features; the model has {InputDim}.");
        Encoder = encoder;
        Decoder = decoder;
        Standardization = standardization;
    }

    public int InputDim { get; }
    public int HiddenDim { get; }
    public int LatentDim { get; }
    public LinearLayerWeights[] Encoder { get; }
    public LinearLayerWeights[] Decoder { get; }
    public FeatureStandardization? Standardization { get; }

    public bool AllFinite() => Encoder.All(l => l.AllFinite()) && Decoder.All(l => l.AllFinite());

    private static void CheckShape(LinearLayerWeights layer, int expectedIn, int expectedOut, string name)
    {
        if (layer.InputSize != expectedIn || layer.OutputSize != expectedOut)
            throw new ArgumentException(
                $"{name} is {layer.InputSize}→{layer.OutputSize}; the architecture needs {expectedIn}→{expectedOut}.");
    }
}
