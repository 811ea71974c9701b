namespace MLNetVae.Onnx;

/// <summary>
/// The names that the exported ONNX encoder and decoder expose to the outside: graph inputs and
/// outputs, the symbolic batch dimension and the metadata keys. Anything that loads the files
/// (this library's scorer, ONNX Runtime, ML.NET's ONNX transformer, Python) can rely on these.
/// </summary>
public static class VaeOnnxNames
{
    /// <summary>Name of the symbolic first (row) dimension of every input and output.</summary>
    public const string BatchDimension = "batch";

    /// <summary>Encoder input: float <c>[batch, input_dim]</c> in the original feature scale.</summary>
    public const string EncoderInput = "features";

    /// <summary>Encoder output: float <c>[batch, latent_dim]</c>, the mean of q(z|x).</summary>
    public const string EncoderMean = "mu";

    /// <summary>Encoder output: float <c>[batch, latent_dim]</c>, the log-variance of q(z|x).</summary>
    public const string EncoderLogVariance = "logvar";

    /// <summary>Decoder input: float <c>[batch, latent_dim]</c>, a latent code.</summary>
    public const string DecoderInput = "z";

    /// <summary>Decoder output: float <c>[batch, input_dim]</c> in the original feature scale.</summary>
    public const string DecoderOutput = "reconstruction";

    /// <summary>The <c>producer_name</c> written into every exported model.</summary>
    public const string ProducerName = "MLNetVae";

    /// <summary>Value of <see cref="MetadataKeys.Part"/> in the encoder file.</summary>
    public const string EncoderPart = "encoder";

    /// <summary>Value of <see cref="MetadataKeys.Part"/> in the decoder file.</summary>
    public const string DecoderPart = "decoder";

    /// <summary>Keys of the model-level <c>metadata_props</c> the exporter writes (values are strings).</summary>
    public static class MetadataKeys
    {
        /// <summary>Which half of the VAE the file holds: <see cref="EncoderPart"/> or <see cref="DecoderPart"/>.</summary>
        public const string Part = "mlnetvae.part";

        /// <summary>Number of input features.</summary>
        public const string InputDim = "mlnetvae.input_dim";

        /// <summary>Width of the hidden layers.</summary>
        public const string HiddenDim = "mlnetvae.hidden_dim";

        /// <summary>Number of latent dimensions.</summary>
        public const string LatentDim = "mlnetvae.latent_dim";

        /// <summary><c>true</c> when the per-feature standardization is folded into the graph, else <c>false</c>.</summary>
        public const string Standardized = "mlnetvae.standardized";

        /// <summary>The KL weight β used in training (invariant culture, round-trip format); absent if not given.</summary>
        public const string Beta = "mlnetvae.beta";
    }
}
