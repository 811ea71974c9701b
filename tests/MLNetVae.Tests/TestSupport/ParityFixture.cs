using System.Globalization;
using System.Text.Json;
using MLNetVae.Model;

namespace MLNetVae.Tests.TestSupport;

/// <summary>
/// Loads <c>TestData/parity/vae_parity.json</c>: a tiny PyTorch VAE (in=6, hidden=8, latent=3) with
/// fixed weights, input batch, reparameterization noise and the float32 results PyTorch computed for
/// them. Every float in the file is a decimal string that round-trips to the exact float32.
/// Use <see cref="Load"/>; the parsed fixture is cached and must be treated as read-only.
/// </summary>
internal sealed class ParityFixture
{
    public const string RelativeDirectory = "TestData/parity";

    /// <summary>Encoder layer keys in the file (indices into the PyTorch nn.Sequential).</summary>
    public static readonly string[] EncoderLayerKeys = ["e0", "e2", "e4"];

    /// <summary>Decoder layer keys in the file (indices into the PyTorch nn.Sequential).</summary>
    public static readonly string[] DecoderLayerKeys = ["d0", "d2", "d4"];

    private static readonly Lazy<ParityFixture> Cached = new(() => Parse(File.ReadAllText(JsonPath)));

    public static string JsonPath => Path.Combine(AppContext.BaseDirectory, RelativeDirectory, "vae_parity.json");

    /// <summary>The same model's deterministic scoring path exported by torch.onnx: x → (mu, logvar, x_hat = decoder(mu)).</summary>
    public static string OnnxPath => Path.Combine(AppContext.BaseDirectory, RelativeDirectory, "vae_parity.onnx");

    public static ParityFixture Load() => Cached.Value;

    public required int InputDim { get; init; }
    public required int HiddenDim { get; init; }
    public required int LatentDim { get; init; }

    /// <summary>KL weight: loss = rec + Beta · kld.</summary>
    public required double Beta { get; init; }

    public required double LearningRate { get; init; }
    public required double AdamBeta1 { get; init; }
    public required double AdamBeta2 { get; init; }
    public required double AdamEpsilon { get; init; }
    public required double AdamWeightDecay { get; init; }

    /// <summary>The model, no standardization (the fixture has none).</summary>
    public required VaeWeights Weights { get; init; }

    /// <summary>Input batch [rows, InputDim].</summary>
    public required float[,] X { get; init; }

    /// <summary>Reparameterization noise [rows, LatentDim]: z = mu + exp(logvar / 2) · eps.</summary>
    public required float[,] Eps { get; init; }

    public required ParityExpected Expected { get; init; }

    public int Rows => X.GetLength(0);

    internal static ParityFixture Parse(string json)
    {
        using var doc = JsonDocument.Parse(json);
        var root = doc.RootElement;
        var expected = root.GetProperty("expected");
        var adam = root.GetProperty("adam");
        var betas = adam.GetProperty("betas");
        return new ParityFixture
        {
            InputDim = root.GetProperty("in_dim").GetInt32(),
            HiddenDim = root.GetProperty("hidden").GetInt32(),
            LatentDim = root.GetProperty("latent").GetInt32(),
            Beta = Number(root.GetProperty("beta")),
            LearningRate = Number(root.GetProperty("lr")),
            AdamBeta1 = Number(betas[0]),
            AdamBeta2 = Number(betas[1]),
            AdamEpsilon = Number(adam.GetProperty("eps")),
            AdamWeightDecay = Number(adam.GetProperty("weight_decay")),
            Weights = ReadWeights(root.GetProperty("weights")),
            X = Matrix(root.GetProperty("x")),
            Eps = Matrix(root.GetProperty("eps")),
            Expected = new ParityExpected
            {
                Mu = Matrix(expected.GetProperty("mu")),
                LogVar = Matrix(expected.GetProperty("logvar")),
                Z = Matrix(expected.GetProperty("z")),
                XHat = Matrix(expected.GetProperty("x_hat")),
                Rec = Scalar(expected.GetProperty("rec")),
                Kld = Scalar(expected.GetProperty("kld")),
                Loss = Scalar(expected.GetProperty("loss")),
                Grads = ReadWeights(expected.GetProperty("grads")),
                WeightsAfterOneAdamStep = ReadWeights(expected.GetProperty("weights_after_one_adam_step")),
                ReconErrorMuPerRow = Vector(expected.GetProperty("recon_error_mu_per_row")),
            },
        };
    }

    /// <summary>Reads six {W, b} layers (e0, e2, e4, d0, d2, d4) into the library's <see cref="VaeWeights"/>.</summary>
    private static VaeWeights ReadWeights(JsonElement layers) =>
        new(EncoderLayerKeys.Select(k => Layer(layers.GetProperty(k))).ToArray(),
            DecoderLayerKeys.Select(k => Layer(layers.GetProperty(k))).ToArray(),
            standardization: null);

    private static LinearLayerWeights Layer(JsonElement layer)
    {
        var w = Matrix(layer.GetProperty("W"));
        int outSize = w.GetLength(0), inSize = w.GetLength(1);
        var flat = new float[outSize * inSize];
        Buffer.BlockCopy(w, 0, flat, 0, flat.Length * sizeof(float)); // row-major [out, in], as the file
        return new LinearLayerWeights(inSize, outSize, flat, Vector(layer.GetProperty("b")));
    }

    private static float[,] Matrix(JsonElement rows)
    {
        int r = rows.GetArrayLength();
        int c = r == 0 ? 0 : rows[0].GetArrayLength();
        var m = new float[r, c];
        for (int i = 0; i < r; i++)
        {
            var row = rows[i];
            if (row.GetArrayLength() != c) throw new FormatException($"Ragged matrix: row {i} has {row.GetArrayLength()} values, row 0 has {c}.");
            for (int j = 0; j < c; j++) m[i, j] = Scalar(row[j]);
        }
        return m;
    }

    private static float[] Vector(JsonElement values) => values.EnumerateArray().Select(Scalar).ToArray();

    /// <summary>A float32 written as a decimal string (float.Parse rounds to nearest, so it round-trips exactly).</summary>
    private static float Scalar(JsonElement e) => e.ValueKind == JsonValueKind.String
        ? float.Parse(e.GetString()!, NumberStyles.Float, CultureInfo.InvariantCulture)
        : e.GetSingle();

    private static double Number(JsonElement e) => e.ValueKind == JsonValueKind.String
        ? double.Parse(e.GetString()!, NumberStyles.Float, CultureInfo.InvariantCulture)
        : e.GetDouble();
}

/// <summary>What PyTorch computed for the fixture's weights, x and eps (all float32).</summary>
internal sealed class ParityExpected
{
    /// <summary>[rows, latent]</summary>
    public required float[,] Mu { get; init; }

    /// <summary>[rows, latent]</summary>
    public required float[,] LogVar { get; init; }

    /// <summary>mu + exp(logvar / 2) · eps, [rows, latent].</summary>
    public required float[,] Z { get; init; }

    /// <summary>decoder(Z) (uses eps, so not the deterministic scoring path), [rows, in].</summary>
    public required float[,] XHat { get; init; }

    /// <summary>Summed squared reconstruction error of XHat against x.</summary>
    public required float Rec { get; init; }

    /// <summary>Summed KL divergence to N(0, I).</summary>
    public required float Kld { get; init; }

    /// <summary>Rec + beta · Kld.</summary>
    public required float Loss { get; init; }

    /// <summary>d loss / d weight, one entry per layer in the weights' own layout (held in a <see cref="VaeWeights"/> for convenience).</summary>
    public required VaeWeights Grads { get; init; }

    /// <summary>The weights after one Adam step with the fixture's hyper-parameters.</summary>
    public required VaeWeights WeightsAfterOneAdamStep { get; init; }

    /// <summary>Deterministic score: mean((decoder(mu) - x)², over features), per row.</summary>
    public required float[] ReconErrorMuPerRow { get; init; }
}
