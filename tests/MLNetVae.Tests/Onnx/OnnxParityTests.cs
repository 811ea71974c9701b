using Microsoft.ML.OnnxRuntime;
using MLNetVae.Onnx;
using MLNetVae.Tests.TestSupport;

namespace MLNetVae.Tests.Onnx;

/// <summary>The exported graphs against PyTorch's own numbers and PyTorch's own ONNX export of the same model.</summary>
public class OnnxParityTests
{
    // Same float32 ops as PyTorch in a possibly different summation order: a few ulps of O(1) values.
    private const double MuLogVarTolerance = 1e-6;

    [Fact]
    public void EncoderReproducesPyTorchMuAndLogVar()
    {
        var f = ParityFixture.Load();
        using var encoder = new InferenceSession(VaeOnnxExporter.ExportEncoder(f.Weights));

        var outputs = OrtTestRunner.Run(encoder, VaeOnnxNames.EncoderInput, f.X, VaeOnnxNames.EncoderMean, VaeOnnxNames.EncoderLogVariance);

        AssertMatrixClose(f.Expected.Mu, outputs[VaeOnnxNames.EncoderMean], MuLogVarTolerance, "mu");
        AssertMatrixClose(f.Expected.LogVar, outputs[VaeOnnxNames.EncoderLogVariance], MuLogVarTolerance, "logvar");
    }

    [Fact]
    public void DecoderOfMuReproducesPyTorchPerRowReconstructionError()
    {
        var f = ParityFixture.Load();
        using var encoder = new InferenceSession(VaeOnnxExporter.ExportEncoder(f.Weights));
        using var decoder = new InferenceSession(VaeOnnxExporter.ExportDecoder(f.Weights));

        var mu = OrtTestRunner.Run(encoder, VaeOnnxNames.EncoderInput, f.X, VaeOnnxNames.EncoderMean)[VaeOnnxNames.EncoderMean];
        var recon = OrtTestRunner.Run(decoder, VaeOnnxNames.DecoderInput, mu, VaeOnnxNames.DecoderOutput)[VaeOnnxNames.DecoderOutput];

        Assert.Equal(f.Rows, recon.GetLength(0));
        Assert.Equal(f.InputDim, recon.GetLength(1));
        for (int i = 0; i < f.Rows; i++)
        {
            double sum = 0;
            for (int j = 0; j < f.InputDim; j++)
            {
                double d = (double)recon[i, j] - f.X[i, j];
                sum += d * d;
            }
            double error = sum / f.InputDim;
            double expected = f.Expected.ReconErrorMuPerRow[i];
            Assert.True(Math.Abs(error - expected) <= 1e-5 * Math.Max(1.0, Math.Abs(expected)),
                $"row {i}: recon error {error:R}, PyTorch {expected:R}");
        }
    }

    [Fact]
    public void ShapesAgreeWithPyTorchsOnnxExportOfTheSameModel()
    {
        var f = ParityFixture.Load();
        using var reference = new InferenceSession(ParityFixture.OnnxPath);
        using var encoder = new InferenceSession(VaeOnnxExporter.ExportEncoder(f.Weights));
        using var decoder = new InferenceSession(VaeOnnxExporter.ExportDecoder(f.Weights));

        // The torch export takes x [n, in] and returns mu, logvar, x_hat = decoder(mu).
        var refInput = Assert.Single(reference.InputMetadata).Value;
        var ourInput = Assert.Single(encoder.InputMetadata).Value;
        Assert.Equal(2, refInput.Dimensions.Length);
        Assert.Equal(-1, refInput.Dimensions[0]);   // both have a dynamic batch dimension
        Assert.Equal(refInput.Dimensions, ourInput.Dimensions);
        Assert.Equal(f.InputDim, ourInput.Dimensions[1]);
        Assert.Equal(new[] { -1, f.InputDim }, decoder.OutputMetadata[VaeOnnxNames.DecoderOutput].Dimensions);
        Assert.Equal(-1, reference.OutputMetadata["x_hat"].Dimensions[0]);
        Assert.Equal(reference.OutputMetadata["x_hat"].Dimensions, decoder.OutputMetadata[VaeOnnxNames.DecoderOutput].Dimensions);

        // torch declares mu/logvar as [?, ?] (Slice), so compare the shapes the two models actually produce.
        string refInputName = reference.InputNames.Single();
        var refOut = OrtTestRunner.Run(reference, refInputName, f.X, "mu", "logvar", "x_hat");
        var ourEnc = OrtTestRunner.Run(encoder, VaeOnnxNames.EncoderInput, f.X, VaeOnnxNames.EncoderMean, VaeOnnxNames.EncoderLogVariance);
        var ourDec = OrtTestRunner.Run(decoder, VaeOnnxNames.DecoderInput, ourEnc[VaeOnnxNames.EncoderMean], VaeOnnxNames.DecoderOutput);
        Assert.Equal(Shape(refOut["mu"]), Shape(ourEnc[VaeOnnxNames.EncoderMean]));
        Assert.Equal(Shape(refOut["logvar"]), Shape(ourEnc[VaeOnnxNames.EncoderLogVariance]));
        Assert.Equal(Shape(refOut["x_hat"]), Shape(ourDec[VaeOnnxNames.DecoderOutput]));
        Assert.Equal(new[] { f.Rows, f.LatentDim }, Shape(ourEnc[VaeOnnxNames.EncoderMean]));
        Assert.Equal(new[] { -1, f.LatentDim }, encoder.OutputMetadata[VaeOnnxNames.EncoderMean].Dimensions);
        Assert.Equal(new[] { -1, f.LatentDim }, decoder.InputMetadata[VaeOnnxNames.DecoderInput].Dimensions);

        // And the values: same ops in the same runtime, so essentially identical.
        AssertMatrixClose(refOut["mu"], ourEnc[VaeOnnxNames.EncoderMean], MuLogVarTolerance, "mu vs torch ONNX");
        AssertMatrixClose(refOut["logvar"], ourEnc[VaeOnnxNames.EncoderLogVariance], MuLogVarTolerance, "logvar vs torch ONNX");
        AssertMatrixClose(refOut["x_hat"], ourDec[VaeOnnxNames.DecoderOutput], 1e-5, "decoder(mu) vs torch ONNX x_hat");
    }

    private static void AssertMatrixClose(float[,] expected, float[,] actual, double tolerance, string what)
    {
        Assert.Equal(Shape(expected), Shape(actual));
        for (int i = 0; i < expected.GetLength(0); i++)
        {
            for (int j = 0; j < expected.GetLength(1); j++)
            {
                double e = expected[i, j], a = actual[i, j];
                // Absolute bound for O(1) values, a few float32 ulps (2^-23 relative) for larger ones.
                double bound = Math.Max(tolerance, 4 * Math.Abs(e) * Math.Pow(2, -23));
                Assert.True(Math.Abs(e - a) <= bound, $"{what}[{i},{j}]: expected {e:R}, got {a:R} (|diff| {Math.Abs(e - a):E3})");
            }
        }
    }

    private static int[] Shape(float[,] m) => [m.GetLength(0), m.GetLength(1)];
}
