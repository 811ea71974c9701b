using MLNetVae.Model;

namespace MLNetVae.Onnx;

/// <summary>
/// One linear layer <c>y = x Wᵀ + b</c> as int8 ONNX nodes, for <see cref="VaeScoringPrecision.Int8"/>.
/// </summary>
/// <remarks>
/// <para><b>Weights</b>: symmetric int8 per output channel, <c>W[n, k] ≈ s_n · q[k, n]</c> with
/// <c>s_n = max_k |W[n, k]| / 127</c> and round-half-to-even (<see cref="QuantizedLayer"/>), stored <c>[in, out]</c>
/// as the integer MatMul reads it.</para>
/// <para><b>Activations</b>: per row. Each row is divided by its own largest magnitude <c>m</c>, so it lies in
/// [−1, 1], then quantized with fixed parameters (after a ReLU the row is non-negative and uses all 256 codes:
/// scale 1/255, zero point 0; otherwise scale 1/127 around zero point 128). The integer product is dequantized by
/// ONNX Runtime's <c>MatMulIntegerToFloat</c> and multiplied back by <c>m</c> before the bias. Why per row and not
/// per batch (ONNX Runtime's <c>DynamicQuantizeMatMul</c>): with one scale per batch a single extreme row — the very
/// rows an anomaly detector exists for — coarsens every other row of its batch, and a row's scores would depend on
/// which rows it was scored with (<c>PredictionEngine</c> and <c>Transform</c> would disagree). Per row, a row's
/// scores depend on that row alone.</para>
/// </remarks>
internal static class Int8LinearNodes
{
    [ThreadStatic]
    private static bool perBatch;

    /// <summary>
    /// Builds graphs with ONNX Runtime's <c>DynamicQuantizeMatMul</c> (one activation scale per batch) instead, on this
    /// thread, while <paramref name="build"/> runs: only for the benchmark that measures the alternative not taken.
    /// </summary>
    internal static T WithPerBatchActivations<T>(Func<T> build)
    {
        perBatch = true;
        try
        {
            return build();
        }
        finally
        {
            perBatch = false;
        }
    }

    /// <summary>Adds the layer's nodes from <paramref name="input"/> (<c>[rows, in]</c>) and returns the output's name (<c>[rows, out]</c>).</summary>
    /// <param name="g">The graph being built.</param>
    /// <param name="name">The layer's name, the prefix of its nodes and initializers (<c>encoder.0</c>, …).</param>
    /// <param name="layer">The float32 weights, quantized here.</param>
    /// <param name="input">The layer's input value.</param>
    /// <param name="reluOfInput">
    /// Whether the layer reads the ReLU of <paramref name="input"/> (the previous layer's output before its ReLU): the
    /// quantization applies it, since negative values saturate to code 0, so no ReLU node is needed.
    /// </param>
    /// <param name="output">The name of the layer's output value.</param>
    public static string Add(OnnxGraphBuilder g, string name, LinearLayerWeights layer, string input, bool reluOfInput, string output)
    {
        var quantized = QuantizedLayer.From(layer);
        string w = g.AddInt8Initializer($"{name}.weight_int8", quantized.Weight, layer.InputSize, layer.OutputSize);
        string wScale = g.AddFloatInitializer($"{name}.weight_scale", quantized.Scale, layer.OutputSize);
        string b = g.AddFloatInitializer($"{name}.bias", layer.Bias, layer.OutputSize);
        if (perBatch)
        {
            string x = reluOfInput ? g.AddNode("Relu", $"{name}.relu_input", [input], $"{name}.relu_input") : input;
            return g.AddMicrosoftNode("DynamicQuantizeMatMul", $"{name}.dqmm", [x, w, wScale, "", b], output);
        }

        // m = the row's largest value the layer reads ([rows, 1]): max |x|, or max x under a ReLU; at least `tiny`, so
        // that a row of zeros (or, under a ReLU, of negative values) divides to codes of zero rather than NaN.
        string magnitude = reluOfInput ? input : g.AddNode("Abs", $"{name}.abs", [input], $"{name}.magnitude");
        string rowMax = g.AddNode("ReduceMax", $"{name}.row_max", [magnitude], $"{name}.row_max",
            OnnxGraphBuilder.IntsAttribute("axes", 1), OnnxGraphBuilder.IntAttribute("keepdims", 1));
        string tiny = g.AddFloatInitializer($"{name}.tiny", [1e-30f]);
        string rowScale = g.AddNode("Max", $"{name}.row_scale", [rowMax, tiny], $"{name}.row_scale");
        string unit = g.AddNode("Div", $"{name}.normalize", [input, rowScale], $"{name}.unit_rows");

        float codeScale = reluOfInput ? 1f / 255 : 1f / 127;
        byte zeroPoint = reluOfInput ? (byte)0 : (byte)128;
        string aScale = g.AddFloatInitializer($"{name}.input_scale", [codeScale]);
        string aZero = g.AddUInt8Initializer($"{name}.input_zero_point", [zeroPoint]);
        string codes = g.AddNode("QuantizeLinear", $"{name}.quantize", [unit, aScale, aZero], $"{name}.input_uint8");

        string product = g.AddMicrosoftNode("MatMulIntegerToFloat", $"{name}.matmul_int8",
            [codes, w, aScale, wScale, aZero], $"{name}.unit_output");
        string rescaled = g.AddNode("Mul", $"{name}.rescale", [product, rowScale], $"{name}.rescaled");
        return g.AddNode("Add", $"{name}.add_bias", [rescaled, b], output);
    }
}

/// <summary>A linear layer's weights as symmetric int8 per output channel, laid out <c>[in, out]</c>.</summary>
internal sealed class QuantizedLayer
{
    private QuantizedLayer(sbyte[] weight, float[] scale)
    {
        Weight = weight;
        Scale = scale;
    }

    /// <summary>Row-major <c>[InputSize, OutputSize]</c>: <c>q[k, n]</c>.</summary>
    public sbyte[] Weight { get; }

    /// <summary><c>[OutputSize]</c>: <c>s_n</c>, so that <c>W[n, k] ≈ s_n · q[k, n]</c>.</summary>
    public float[] Scale { get; }

    public static QuantizedLayer From(LinearLayerWeights layer)
    {
        int inputs = layer.InputSize, outputs = layer.OutputSize;
        var q = new sbyte[inputs * outputs];
        var scale = new float[outputs];
        for (int n = 0; n < outputs; n++)
        {
            var row = layer.Weight.AsSpan(n * inputs, inputs);
            float max = 0;
            foreach (float v in row)
                max = Math.Max(max, Math.Abs(v));
            // An all-zero channel: any scale reproduces it; 1 keeps the dequantized zeros exact.
            float s = max > 0 ? max / 127f : 1f;
            scale[n] = s;
            for (int k = 0; k < inputs; k++)
                q[k * outputs + n] = (sbyte)Math.Clamp(MathF.Round(row[k] / s, MidpointRounding.ToEven), -127f, 127f);
        }
        return new QuantizedLayer(q, scale);
    }
}
