using MLNetVae.Model;
using MLNetVae.Tests.TestSupport;
using MLNetVae.Training;
using static TorchSharp.torch;

namespace MLNetVae.Tests.Training;

/// <summary>
/// The TorchSharp network, loss and optimizer against the PyTorch reference's fixed-weight fixture
/// (../shared/fixtures/parity, copied into TestData): forward values, loss terms, gradients and one Adam step.
/// </summary>
public class TorchParityTests
{
    private static readonly ParityFixture Fixture = ParityFixture.Load();

    // Float32 rounding: the reference and libtorch may sum in different orders.
    private const float AbsoluteTolerance = 2e-6f;
    private const float RelativeTolerance = 2e-5f;

    private sealed class Run : IDisposable
    {
        public Run(double logVarLimit)
        {
            Network = new VaeNetwork(Fixture.InputDim, Fixture.HiddenDim, Fixture.LatentDim);
            Network.Load(Fixture.Weights);
            X = ToTensor(Fixture.X);
            Eps = ToTensor(Fixture.Eps);
            (Reconstruction, Mu, LogVar) = Network.Forward(X, Eps, logVarLimit);
            (Loss, Rec, Kl) = VaeLoss.Compute(Reconstruction, X, Mu, LogVar, Fixture.Beta, logVarLimit);
        }

        public VaeNetwork Network { get; }
        public Tensor X { get; }
        public Tensor Eps { get; }
        public Tensor Reconstruction { get; }
        public Tensor Mu { get; }
        public Tensor LogVar { get; }
        public Tensor Loss { get; }
        public Tensor Rec { get; }
        public Tensor Kl { get; }

        public void Dispose() => Network.Dispose();
    }

    [Theory]
    [InlineData(double.PositiveInfinity)] // the bare reference math
    [InlineData(VaeOptions.Defaults.LogVarianceLimit)] // the default safeguard changes nothing in the normal range
    public void ForwardPassAndLossMatchReference(double logVarLimit)
    {
        using var run = new Run(logVarLimit);
        AssertClose(Fixture.Expected.Mu, run.Mu, "mu");
        AssertClose(Fixture.Expected.LogVar, run.LogVar, "logvar");
        AssertClose(Fixture.Expected.XHat, run.Reconstruction, "x_hat");
        AssertClose(Fixture.Expected.Rec, run.Rec.item<float>(), "rec");
        AssertClose(Fixture.Expected.Kld, run.Kl.item<float>(), "kld");
        AssertClose(Fixture.Expected.Loss, run.Loss.item<float>(), "loss");
    }

    [Fact]
    public void GradientsMatchReference()
    {
        using var run = new Run(VaeOptions.Defaults.LogVarianceLimit);
        run.Loss.backward();
        AssertClose(Fixture.Expected.Grads, run.Network.SnapshotGradients(), "grad");
    }

    [Fact]
    public void OneAdamStepMatchesReference()
    {
        using var run = new Run(VaeOptions.Defaults.LogVarianceLimit);
        using var adam = optim.Adam(run.Network.parameters(), lr: Fixture.LearningRate, beta1: Fixture.AdamBeta1,
            beta2: Fixture.AdamBeta2, eps: Fixture.AdamEpsilon, weight_decay: Fixture.AdamWeightDecay);
        adam.zero_grad();
        run.Loss.backward();
        adam.step();
        var after = run.Network.Snapshot(null);
        AssertClose(Fixture.Expected.WeightsAfterOneAdamStep, after, "weights after Adam");
        // The step really moved the weights (the comparison above is not trivially true).
        Assert.NotEqual(Fixture.Weights.Encoder[0].Weight, after.Encoder[0].Weight);
    }

    [Fact]
    public void TheTrainersAdamMatchesTheReferenceAndTorchSharpsAdam()
    {
        // VaeAdam replaces optim.Adam in the trainer (it holds its Scalars; see TrainingScalars). One step against the
        // PyTorch fixture, then three steps against TorchSharp's Adam on an identical network: equal to float32 rounding.
        using var ours = new Run(VaeOptions.Defaults.LogVarianceLimit);
        using var theirs = new Run(VaeOptions.Defaults.LogVarianceLimit);
        using var vaeAdam = new VaeAdam(ours.Network.parameters(), Fixture.LearningRate, Fixture.AdamBeta1, Fixture.AdamBeta2, Fixture.AdamEpsilon);
        using var torchAdam = optim.Adam(theirs.Network.parameters(), lr: Fixture.LearningRate, beta1: Fixture.AdamBeta1,
            beta2: Fixture.AdamBeta2, eps: Fixture.AdamEpsilon);
        Assert.Equal(0.0, Fixture.AdamWeightDecay); // VaeAdam has no weight decay, like the trainer's use of Adam

        for (int step = 1; step <= 3; step++)
        {
            var (oursLoss, theirsLoss) = step == 1 ? (ours.Loss, theirs.Loss) : (StepLoss(ours), StepLoss(theirs));
            vaeAdam.ZeroGrad();
            oursLoss.backward();
            vaeAdam.Step();
            torchAdam.zero_grad();
            theirsLoss.backward();
            torchAdam.step();
            var after = ours.Network.Snapshot(null);
            if (step == 1)
                AssertClose(Fixture.Expected.WeightsAfterOneAdamStep, after, "weights after VaeAdam");
            // Same operations as optim.Adam; in Release builds the JIT may fuse the scalar math differently, so the
            // comparison is to float32 rounding (measured: at most 1 ulp).
            AssertClose(theirs.Network.Snapshot(null), after, $"VaeAdam vs optim.Adam, step {step}");
        }

        static Tensor StepLoss(Run run)
        {
            var (reconstruction, mu, logVar) = run.Network.Forward(run.X, run.Eps, VaeOptions.Defaults.LogVarianceLimit);
            return VaeLoss.Compute(reconstruction, run.X, mu, logVar, Fixture.Beta, VaeOptions.Defaults.LogVarianceLimit).Loss;
        }
    }

    [Fact]
    public void TheLogVarianceGuardChangesNothingBelowTheLimitAndStopsGradientAbove()
    {
        using var logVar = tensor(new float[] { -5f, 0f, 3f, 19.9f, 25f, 1000f }).requires_grad_();
        using var guarded = VaeLoss.Guard(logVar, 20);
        using var variance = guarded.exp();
        Assert.Equal(new[] { -5f, 0f, 3f, 19.9f, 20f, 20f }, guarded.data<float>().ToArray());
        Assert.All(variance.data<float>().ToArray(), v => Assert.True(float.IsFinite(v)));
        variance.sum().backward();
        var gradient = logVar.grad!.data<float>().ToArray();
        Assert.Equal(MathF.Exp(3f), gradient[2], 1e-5f * MathF.Exp(3f));
        Assert.Equal(0f, gradient[4]);
        Assert.Equal(0f, gradient[5]);
    }

    private static Tensor ToTensor(float[,] values)
    {
        int rows = values.GetLength(0), columns = values.GetLength(1);
        var flat = new float[rows * columns];
        Buffer.BlockCopy(values, 0, flat, 0, flat.Length * sizeof(float));
        return tensor(flat, new long[] { rows, columns });
    }

    private static void AssertClose(float[,] expected, Tensor actual, string what)
    {
        var values = actual.detach().data<float>().ToArray();
        Assert.Equal(expected.Length, values.Length);
        int i = 0;
        foreach (float e in expected)
            AssertClose(e, values[i++], $"{what}[{i - 1}]");
    }

    private static void AssertClose(VaeWeights expected, VaeWeights actual, string what)
    {
        foreach (var (e, a, name) in expected.Encoder.Zip(actual.Encoder, new[] { "e0", "e2", "e4" })
                     .Concat(expected.Decoder.Zip(actual.Decoder, new[] { "d0", "d2", "d4" })))
        {
            for (int i = 0; i < e.Weight.Length; i++) AssertClose(e.Weight[i], a.Weight[i], $"{what} {name}.W[{i}]");
            for (int i = 0; i < e.Bias.Length; i++) AssertClose(e.Bias[i], a.Bias[i], $"{what} {name}.b[{i}]");
        }
    }

    private static void AssertClose(float expected, float actual, string what)
    {
        float tolerance = AbsoluteTolerance + RelativeTolerance * Math.Abs(expected);
        Assert.True(Math.Abs(expected - actual) <= tolerance,
            $"{what}: expected {expected:R}, got {actual:R} (|diff| {Math.Abs(expected - actual):E2} > {tolerance:E2})");
    }
}
