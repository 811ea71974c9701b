using MLNetVae.Model;

namespace MLNetVae.Training;

/// <summary>
/// PyTorch's default <c>nn.Linear</c> initialisation (weights and biases uniform in ±1/√fan_in), drawn from a
/// seeded <see cref="Random"/> so that training is reproducible without touching TorchSharp's global generator.
/// </summary>
internal static class WeightInitializer
{
    public static VaeWeights Create(int inputDim, int hiddenDim, int latentDim, Random random)
    {
        LinearLayerWeights Layer(int inSize, int outSize)
        {
            float bound = 1f / MathF.Sqrt(inSize);
            float Draw() => (float)((random.NextDouble() * 2 - 1) * bound);
            var weight = new float[inSize * outSize];
            for (int i = 0; i < weight.Length; i++) weight[i] = Draw();
            var bias = new float[outSize];
            for (int i = 0; i < bias.Length; i++) bias[i] = Draw();
            return new LinearLayerWeights(inSize, outSize, weight, bias);
        }

        var encoder = new[] { Layer(inputDim, hiddenDim), Layer(hiddenDim, hiddenDim), Layer(hiddenDim, 2 * latentDim) };
        var decoder = new[] { Layer(latentDim, hiddenDim), Layer(hiddenDim, hiddenDim), Layer(hiddenDim, inputDim) };
        return new VaeWeights(encoder, decoder, standardization: null);
    }
}
