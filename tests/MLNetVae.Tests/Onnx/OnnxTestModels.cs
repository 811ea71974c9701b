using MLNetVae.Model;

namespace MLNetVae.Tests.Onnx;

/// <summary>Seeded random models and inputs for the ONNX export tests.</summary>
internal static class OnnxTestModels
{
    public const int InputDim = 7;
    public const int HiddenDim = 16;
    public const int LatentDim = 3;

    /// <summary>
    /// PyTorch-default-like init (uniform ±1/√fan_in). With standardization the features get
    /// means far from zero and scales far from one, so a missing or misplaced (un)standardization
    /// step cannot hide inside the tolerance.
    /// </summary>
    public static VaeWeights RandomWeights(int seed, bool standardized, int inputDim = InputDim, int hiddenDim = HiddenDim, int latentDim = LatentDim)
    {
        var rng = new Random(seed);
        LinearLayerWeights Layer(int inSize, int outSize)
        {
            double bound = 1.0 / Math.Sqrt(inSize);
            return new LinearLayerWeights(inSize, outSize,
                Uniform(rng, inSize * outSize, -bound, bound), Uniform(rng, outSize, -bound, bound));
        }

        var encoder = new[] { Layer(inputDim, hiddenDim), Layer(hiddenDim, hiddenDim), Layer(hiddenDim, 2 * latentDim) };
        var decoder = new[] { Layer(latentDim, hiddenDim), Layer(hiddenDim, hiddenDim), Layer(hiddenDim, inputDim) };
        FeatureStandardization? standardization = standardized
            ? new FeatureStandardization(Uniform(rng, inputDim, -50, 50), Uniform(rng, inputDim, 0.05, 20))
            : null;
        return new VaeWeights(encoder, decoder, standardization);
    }

    /// <summary>Rows in the model's original feature scale: mean + scale · U(-3, 3) per feature.</summary>
    public static float[,] RandomFeatures(VaeWeights w, int rows, int seed)
    {
        var rng = new Random(seed);
        var x = new float[rows, w.InputDim];
        for (int i = 0; i < rows; i++)
        {
            for (int j = 0; j < w.InputDim; j++)
            {
                double u = rng.NextDouble() * 6 - 3;
                x[i, j] = w.Standardization is { } s ? (float)(s.Mean[j] + s.Scale[j] * u) : (float)u;
            }
        }
        return x;
    }

    public static float[,] RandomMatrix(int rows, int cols, int seed, double low, double high)
    {
        var rng = new Random(seed);
        var m = new float[rows, cols];
        for (int i = 0; i < rows; i++)
            for (int j = 0; j < cols; j++)
                m[i, j] = (float)(low + (high - low) * rng.NextDouble());
        return m;
    }

    private static float[] Uniform(Random rng, int count, double low, double high)
    {
        var v = new float[count];
        for (int i = 0; i < count; i++) v[i] = (float)(low + (high - low) * rng.NextDouble());
        return v;
    }
}
