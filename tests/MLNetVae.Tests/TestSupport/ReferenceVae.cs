using MLNetVae.Model;

namespace MLNetVae.Tests.TestSupport;

/// <summary>
/// A straightforward double-precision forward pass of the VAE, written from the architecture's
/// definition with plain loops and sharing no code with the library: the yardstick the exported
/// graphs (and anything else computing the model) are measured against.
/// </summary>
internal static class ReferenceVae
{
    /// <summary>Encoder on one row in the original feature scale: (mu, logvar).</summary>
    public static (double[] Mu, double[] LogVar) Encode(VaeWeights w, ReadOnlySpan<float> x)
    {
        double[] h = new double[x.Length];
        for (int i = 0; i < x.Length; i++)
        {
            h[i] = w.Standardization is { } s
                ? ((double)x[i] - s.Mean[i]) / s.Scale[i]
                : x[i];
        }
        h = Relu(Linear(w.Encoder[0], h));
        h = Relu(Linear(w.Encoder[1], h));
        h = Linear(w.Encoder[2], h);
        return (h[..w.LatentDim], h[w.LatentDim..]);
    }

    /// <summary>Decoder on one latent code: the reconstruction in the original feature scale.</summary>
    public static double[] Decode(VaeWeights w, ReadOnlySpan<double> z)
    {
        double[] h = Relu(Linear(w.Decoder[0], z.ToArray()));
        h = Relu(Linear(w.Decoder[1], h));
        h = Linear(w.Decoder[2], h);
        if (w.Standardization is { } s)
        {
            for (int i = 0; i < h.Length; i++) h[i] = h[i] * s.Scale[i] + s.Mean[i];
        }
        return h;
    }

    /// <summary>y = x Wᵀ + b with W row-major [out, in].</summary>
    public static double[] Linear(LinearLayerWeights layer, double[] x)
    {
        if (x.Length != layer.InputSize) throw new ArgumentException($"Expected {layer.InputSize} inputs, got {x.Length}.");
        var y = new double[layer.OutputSize];
        for (int o = 0; o < layer.OutputSize; o++)
        {
            double sum = layer.Bias[o];
            for (int i = 0; i < layer.InputSize; i++) sum += (double)layer.Weight[o * layer.InputSize + i] * x[i];
            y[o] = sum;
        }
        return y;
    }

    private static double[] Relu(double[] v)
    {
        for (int i = 0; i < v.Length; i++) v[i] = Math.Max(0.0, v[i]);
        return v;
    }
}
