using Google.Protobuf;
using Microsoft.ML.OnnxRuntime;
using MLNetVae.Model;
using MLNetVae.Onnx;
using MLNetVae.Tests.TestSupport;

namespace MLNetVae.Tests.Onnx;

/// <summary>The int8 linear layer on its own: the weight quantization, and the layer's output against float32 arithmetic.</summary>
public class Int8LinearNodesTests
{
    [Fact]
    public void WeightsAreQuantizedPerOutputChannelWithinHalfAStep()
    {
        var random = new Random(2);
        const int inputs = 40, outputs = 5;
        var weight = new float[inputs * outputs];
        for (int n = 0; n < outputs; n++)
            for (int k = 0; k < inputs; k++)
                weight[n * inputs + k] = n == 3 ? 0 : (float)(random.NextDouble() * 2 - 1) * (n + 1); // channel 3 all zero
        var layer = new LinearLayerWeights(inputs, outputs, weight, new float[outputs]);

        var q = QuantizedLayer.From(layer);
        for (int n = 0; n < outputs; n++)
        {
            float max = Enumerable.Range(0, inputs).Max(k => Math.Abs(weight[n * inputs + k]));
            Assert.Equal(n == 3 ? 1f : max / 127f, q.Scale[n]);
            for (int k = 0; k < inputs; k++)
            {
                float restored = q.Scale[n] * q.Weight[k * outputs + n]; // stored [in, out]
                Assert.InRange(Math.Abs(restored - weight[n * inputs + k]), 0, q.Scale[n] / 2 * 1.0001f);
                Assert.InRange(q.Weight[k * outputs + n], (sbyte)-127, (sbyte)127);
            }
        }
    }

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public void TheLayerComputesTheFloatLayerWithinTheQuantizationError(bool reluOfInput)
    {
        var random = new Random(3);
        const int inputs = 64, outputs = 24, rows = 6;
        var weight = Enumerable.Range(0, inputs * outputs).Select(_ => (float)(random.NextDouble() * 2 - 1) * 0.2f).ToArray();
        var bias = Enumerable.Range(0, outputs).Select(_ => (float)(random.NextDouble() * 2 - 1)).ToArray();
        var layer = new LinearLayerWeights(inputs, outputs, weight, bias);
        var x = new float[rows, inputs];
        for (int i = 0; i < rows; i++)
            for (int k = 0; k < inputs; k++)
                x[i, k] = i switch
                {
                    0 => 0,                                                       // a row of zeros: the bias, exactly
                    1 => -1 - (float)random.NextDouble(),                         // all negative: under a ReLU, zeros again
                    2 => (float)(random.NextDouble() * 2 - 1) * 1e6f,             // large
                    _ => (float)(random.NextDouble() * 2 - 1) * (i == 3 ? 1e-4f : 1f),
                };

        var g = new OnnxGraphBuilder("layer", "one int8 layer");
        g.AddInput("x", inputs);
        Int8LinearNodes.Add(g, "layer", layer, "x", reluOfInput, "y");
        g.AddOutput("y", outputs);
        var model = VaeOnnxExporter.BareModel(g.Graph);
        using var session = new InferenceSession(model.ToByteArray());
        var y = OrtTestRunner.Run(session, "x", x, "y")["y"];

        for (int i = 0; i < rows; i++)
        {
            var input = Enumerable.Range(0, inputs).Select(k => reluOfInput ? Math.Max(0, x[i, k]) : x[i, k]).ToArray();
            double magnitude = input.Max(v => Math.Abs(v));
            for (int n = 0; n < outputs; n++)
            {
                double exact = bias[n] + Enumerable.Range(0, inputs).Sum(k => (double)weight[n * inputs + k] * input[k]);
                // Each product errs by at most half an input step times |w| plus half a weight step times |x|.
                double inputStep = magnitude / (reluOfInput ? 255 : 127), weightStep = Enumerable.Range(0, inputs).Max(k => Math.Abs(weight[n * inputs + k])) / 127;
                double bound = Enumerable.Range(0, inputs).Sum(k => 0.5 * inputStep * Math.Abs(weight[n * inputs + k]) + 0.5 * weightStep * (Math.Abs(input[k]) + inputStep))
                    + 1e-5 * Math.Abs(exact) + 1e-6;
                Assert.True(Math.Abs(y[i, n] - exact) <= bound, $"row {i}, output {n}: {y[i, n]:G6} vs {exact:G6} (bound {bound:G3})");
                if (i == 0 || (i == 1 && reluOfInput))
                    Assert.Equal(bias[n], y[i, n]);
            }
        }
    }
}
