namespace MLNetVae.Model;

/// <summary>
/// The weights of one fully connected layer, <c>y = x Wᵀ + b</c>, stored in PyTorch's layout:
/// <see cref="Weight"/> is row-major <c>[OutputSize, InputSize]</c>. This is the exchange format
/// between training (TorchSharp), ONNX export and persistence, so none of them depends on another.
/// </summary>
internal sealed class LinearLayerWeights
{
    public LinearLayerWeights(int inputSize, int outputSize, float[] weight, float[] bias)
    {
        if (inputSize <= 0) throw new ArgumentOutOfRangeException(nameof(inputSize), inputSize, "Must be positive.");
        if (outputSize <= 0) throw new ArgumentOutOfRangeException(nameof(outputSize), outputSize, "Must be positive.");
        ArgumentNullException.ThrowIfNull(weight);
        ArgumentNullException.ThrowIfNull(bias);
        if (weight.Length != checked(inputSize * outputSize))
            throw new ArgumentException($"Weight has {weight.Length} values; a {outputSize}x{inputSize} layer needs {inputSize * outputSize}.", nameof(weight));
        if (bias.Length != outputSize)
            throw new ArgumentException($"Bias has {bias.Length} values; a layer with {outputSize} outputs needs {outputSize}.", nameof(bias));
        InputSize = inputSize;
        OutputSize = outputSize;
        Weight = weight;
        Bias = bias;
    }

    public int InputSize { get; }
    public int OutputSize { get; }

    /// <summary>Row-major <c>[OutputSize, InputSize]</c>.</summary>
    public float[] Weight { get; }

    /// <summary><c>[OutputSize]</c>.</summary>
    public float[] Bias { get; }

    public bool AllFinite() => Weight.All(float.IsFinite) && Bias.All(float.IsFinite);
}
