using MLNetVae.Model;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace MLNetVae.Training;

/// <summary>
/// The design's VAE as a TorchSharp module. Parameter names follow the PyTorch reference
/// (<c>encoder.0.weight</c> … <c>decoder.4.bias</c>), so state dicts line up with the PyTorch reference the parity tests compare with (tests/MLNetVae.Tests/TestData/parity).
/// </summary>
internal sealed class VaeNetwork : nn.Module<Tensor, Tensor, (Tensor Reconstruction, Tensor Mu, Tensor LogVar)>
{
    private readonly Sequential encoder;
    private readonly Sequential decoder;

    public VaeNetwork(int inputDim, int hiddenDim, int latentDim) : base(WithNativeLibrary(nameof(VaeNetwork)))
    {
        InputDim = inputDim;
        HiddenDim = hiddenDim;
        LatentDim = latentDim;
        encoder = nn.Sequential(
            ("0", nn.Linear(inputDim, hiddenDim)), ("1", nn.ReLU()),
            ("2", nn.Linear(hiddenDim, hiddenDim)), ("3", nn.ReLU()),
            ("4", nn.Linear(hiddenDim, 2 * latentDim)));
        decoder = nn.Sequential(
            ("0", nn.Linear(latentDim, hiddenDim)), ("1", nn.ReLU()),
            ("2", nn.Linear(hiddenDim, hiddenDim)), ("3", nn.ReLU()),
            ("4", nn.Linear(hiddenDim, inputDim)));
        RegisterComponents();
    }

    public int InputDim { get; }
    public int HiddenDim { get; }
    public int LatentDim { get; }

    /// <summary>Encoder output split into the latent mean and log-variance, each <c>[N, latent]</c>.</summary>
    public (Tensor Mu, Tensor LogVar) Encode(Tensor x)
    {
        var h = encoder.forward(x);
        var parts = h.chunk(2, dim: 1);
        return (parts[0], parts[1]);
    }

    public Tensor Decode(Tensor z) => decoder.forward(z);

    /// <summary>
    /// Training forward pass with caller-supplied noise: <c>z = mu + exp(lv/2) · eps</c> with
    /// lv = <see cref="VaeLoss.Guard(Tensor, double)"/>(logvar) (identical to the raw logvar below the limit).
    /// </summary>
    public override (Tensor Reconstruction, Tensor Mu, Tensor LogVar) forward(Tensor x, Tensor eps) =>
        Forward(x, eps, double.PositiveInfinity);

    public (Tensor Reconstruction, Tensor Mu, Tensor LogVar) Forward(Tensor x, Tensor eps, double logVarLimit)
    {
        using var scalars = new TrainingScalars(0, logVarLimit);
        return Forward(x, eps, scalars);
    }

    /// <summary>The same with the constants held by the training run (see <see cref="TrainingScalars"/> for why).</summary>
    public (Tensor Reconstruction, Tensor Mu, Tensor LogVar) Forward(Tensor x, Tensor eps, TrainingScalars scalars)
    {
        var (mu, logVar) = Encode(x);
        var sigma = VaeLoss.Guard(logVar, scalars).mul(scalars.Half).exp();
        var z = mu.add(sigma.mul(eps), scalars.One); // mu + sigma * eps, with the held alpha = 1
        return (Decode(z), mu, logVar);
    }

    private IEnumerable<Linear> Layers(Sequential network) => network.children().OfType<Linear>();

    /// <summary>Copies the weights into this network (on whatever device it lives).</summary>
    public void Load(VaeWeights weights)
    {
        if (weights.InputDim != InputDim || weights.HiddenDim != HiddenDim || weights.LatentDim != LatentDim)
            throw new ArgumentException(
                $"Weights are {weights.InputDim}/{weights.HiddenDim}/{weights.LatentDim}; the network is {InputDim}/{HiddenDim}/{LatentDim}.");
        using var _ = no_grad();
        foreach (var (layer, values) in Layers(encoder).Zip(weights.Encoder).Concat(Layers(decoder).Zip(weights.Decoder)))
        {
            var device = layer.weight!.device;
            // Each TorchSharp call returns its own native handle: the CPU tensors are disposed too, not left to the GC.
            using var wHost = tensor(values.Weight, new long[] { values.OutputSize, values.InputSize });
            using var bHost = tensor(values.Bias, new long[] { values.OutputSize });
            using var w = wHost.to(device);
            using var b = bHost.to(device);
            layer.weight!.copy_(w);
            layer.bias!.copy_(b);
        }
    }

    /// <summary>A copy of the current weights as plain arrays (moved to the CPU when needed).</summary>
    public VaeWeights Snapshot(FeatureStandardization? standardization) =>
        Copy(layer => (layer.weight!, layer.bias!), standardization);

    /// <summary>The gradients of the last backward pass, in the same layout as the weights (for parity checks).</summary>
    public VaeWeights SnapshotGradients() =>
        Copy(layer => (layer.weight!.grad ?? throw new InvalidOperationException("No gradient: run backward() first."), layer.bias!.grad!), null);

    private VaeWeights Copy(Func<Linear, (Tensor Weight, Tensor Bias)> select, FeatureStandardization? standardization)
    {
        LinearLayerWeights CopyLayer(Linear layer)
        {
            var (weight, bias) = select(layer);
            // detach() and cpu() each return a handle; both are disposed (a detached view keeps the weights' storage alive).
            using var wDetached = weight.detach();
            using var bDetached = bias.detach();
            using var w = wDetached.cpu();
            using var b = bDetached.cpu();
            return new LinearLayerWeights((int)w.shape[1], (int)w.shape[0], w.data<float>().ToArray(), b.data<float>().ToArray());
        }

        return new VaeWeights(Layers(encoder).Select(CopyLayer).ToArray(), Layers(decoder).Select(CopyLayer).ToArray(), standardization);
    }

    // The base constructor is TorchSharp's first native call when a network is made directly (tests, tools).
    private static string WithNativeLibrary(string name)
    {
        Native.LibTorchSharpLoader.EnsureLoadable();
        return name;
    }
}
