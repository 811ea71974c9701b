using System.Numerics;
using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace MLNetVae.Training;

/// <summary>
/// Adam (Kingma &amp; Ba) with the arithmetic of TorchSharp's <c>optim.Adam</c> (no weight decay, no AMSGrad), in three
/// passes over memory on the CPU instead of eight.
/// </summary>
/// <remarks>
/// <para><b>Why not optim.Adam.</b> TorchSharp's Adam (like PyTorch 1.13's on the CPU) updates each parameter with eight
/// tensor operations — two for each moment, a square root and a division into new tensors, the epsilon, the update —
/// each a full pass over the parameter's memory: for the 1.7M parameters of 768/512/256, 4.5 ms of an 18–20 ms training
/// step in the trainer on this machine (1.6 ms in three passes). libtorch has a fused CPU Adam (<c>_fused_adam_</c>), but
/// TorchSharp 0.107 does not bind it. <see cref="FusedStep"/> computes the same float32 expressions element by element,
/// in the same order and with the same fused multiply-adds as libtorch's vectorized kernels (see <see cref="Moments"/> and
/// <see cref="Parameter"/>), with the constants rounded to float32 as libtorch rounds its Scalars, in three passes
/// instead of eight. It is element-wise, so the result does not depend on how the work is split across threads, and it
/// equals optim.Adam's bit for bit (a test holds it to that).</para>
/// <para>Parameters on another device, or not contiguous float32, take <see cref="OperatorStep"/>: the eight operations,
/// with every number passed to libtorch held in a <see cref="Scalar"/> that outlives the call (TorchSharp's own Adam
/// passes temporaries that a garbage collection on another thread can free while libtorch reads them; see
/// <see cref="TrainingScalars"/>).</para>
/// </remarks>
internal sealed class VaeAdam : IDisposable
{
    private readonly Parameter[] parameters;
    private readonly Tensor[] firstMoments;
    private readonly Tensor[] secondMoments;
    private readonly double learningRate;
    private readonly double beta1Value;
    private readonly double beta2Value;
    private readonly Scalar beta1;
    private readonly Scalar oneMinusBeta1;
    private readonly Scalar beta2;
    private readonly Scalar oneMinusBeta2;
    private readonly Scalar epsilon;
    private readonly double epsilonValue;
    private readonly Scalar one = 1.ToScalar();
    private long steps;

    public VaeAdam(IEnumerable<Parameter> parameters, double learningRate, double beta1 = 0.9, double beta2 = 0.999, double epsilon = 1e-8)
    {
        this.parameters = parameters.ToArray();
        this.learningRate = learningRate;
        beta1Value = beta1;
        beta2Value = beta2;
        this.beta1 = beta1.ToScalar();
        oneMinusBeta1 = (1 - beta1).ToScalar();
        this.beta2 = beta2.ToScalar();
        oneMinusBeta2 = (1 - beta2).ToScalar();
        this.epsilon = epsilon.ToScalar();
        epsilonValue = epsilon;
        firstMoments = this.parameters.Select(p => zeros_like(p)).ToArray();
        secondMoments = this.parameters.Select(p => zeros_like(p)).ToArray();
    }

    /// <summary>
    /// Clears every parameter's gradient before the next backward pass. On the CPU the gradients are dropped (as PyTorch's
    /// <c>zero_grad(set_to_none=True)</c>), so backward hands its freshly computed gradient to the parameter instead of
    /// adding it into a zeroed one: two passes over 1.7M values fewer per step. Elsewhere they are zeroed in place.
    /// </summary>
    public void ZeroGrad()
    {
        foreach (var parameter in parameters)
        {
            using var grad = parameter.grad;
            if (grad is null)
                continue;
            if (grad.device_type == DeviceType.CPU)
                parameter.grad = null;
            else
                grad.zero_();
        }
    }

    /// <summary>
    /// Threads <see cref="FusedStep"/> splits a large parameter over. One by default: the passes are bound by memory
    /// bandwidth, and a second .NET thread-pool worker beside libtorch's OpenMP threads made training collapse when other
    /// processes held the cores (the step waits for the descheduled worker; docs/benchmarks.md, "Threads").
    /// </summary>
    public int Threads { get; set; } = 1;

    /// <summary>Takes <see cref="OperatorStep"/> for every parameter (tests compare the two paths).</summary>
    internal bool UseOperatorsOnly { get; set; }

    /// <summary>Whether the last <see cref="Step"/> updated every parameter in one fused pass (tests, benchmarks).</summary>
    internal bool LastStepWasFused { get; private set; }

    /// <summary>One update from the current gradients.</summary>
    public void Step()
    {
        steps++;
        double biasCorrection1 = 1 - Math.Pow(beta1Value, steps);
        double biasCorrection2 = 1 - Math.Pow(beta2Value, steps);
        double rootOfBiasCorrection2 = Math.Sqrt(biasCorrection2), minusStepSize = -(learningRate / biasCorrection1);
        using var _ = no_grad();
        bool fused = true;
        for (int i = 0; i < parameters.Length; i++)
        {
            using var grad = parameters[i].grad;
            if (grad is null)
                continue;
            if (!UseOperatorsOnly && CanFuse(parameters[i], grad, firstMoments[i], secondMoments[i]))
            {
                FusedStep(parameters[i], grad, firstMoments[i], secondMoments[i], rootOfBiasCorrection2, minusStepSize);
            }
            else
            {
                OperatorStep(i, grad, rootOfBiasCorrection2, minusStepSize);
                fused = false;
            }
        }
        LastStepWasFused = fused;
    }

    private static bool CanFuse(Tensor parameter, Tensor grad, Tensor m, Tensor v) =>
        parameter.device_type == DeviceType.CPU && grad.device_type == DeviceType.CPU
        && parameter.dtype == ScalarType.Float32 && grad.dtype == ScalarType.Float32
        && parameter.is_contiguous() && grad.is_contiguous() && m.is_contiguous() && v.is_contiguous()
        && grad.numel() == parameter.numel();

    /// <summary>The eight tensor operations of optim.Adam, for parameters the fused pass cannot take.</summary>
    private void OperatorStep(int i, Tensor grad, double rootOfBiasCorrection2, double minusStepSize)
    {
        using var root2 = rootOfBiasCorrection2.ToScalar();
        using var stepSize = minusStepSize.ToScalar();
        // In-place operations return the tensor they were called on (TorchSharp 0.107), so nothing new to dispose.
        firstMoments[i].mul_(beta1).add_(grad, alpha: oneMinusBeta1);
        secondMoments[i].mul_(beta2).addcmul_(grad, grad, value: oneMinusBeta2);
        using var root = secondMoments[i].sqrt();
        using var denominator = root.div(root2);
        denominator.add_(epsilon, alpha: one);
        parameters[i].addcdiv_(firstMoments[i], denominator, value: stepSize);
    }

    /// <summary>The constants of one step, in float32 as libtorch applies its Scalars to float32 tensors.</summary>
    private readonly record struct StepConstants(float Beta1, float OneMinusBeta1, float Beta2, float OneMinusBeta2, float RootOfBiasCorrection2,
        float Epsilon, float MinusStepSize);

    /// <summary>
    /// The update in three passes: the moments (C#), √v (libtorch's own square root: MKL's is not always the correctly
    /// rounded one that .NET computes, and one ulp there was enough to change a training run), the parameter (C#).
    /// </summary>
    private unsafe void FusedStep(Tensor parameter, Tensor grad, Tensor m, Tensor v, double rootOfBiasCorrection2, double minusStepSize)
    {
        var c = new StepConstants((float)beta1Value, (float)(1 - beta1Value), (float)beta2Value, (float)(1 - beta2Value),
            (float)rootOfBiasCorrection2, (float)epsilonValue, (float)minusStepSize);
        long count = parameter.numel();
        // Below ~64k values a second thread costs more than it saves.
        int chunks = (int)Math.Clamp(count / 65_536, 1, Threads);
        fixed (byte* g = grad.bytes, mp = m.bytes, vp = v.bytes)
            Split(count, chunks, (nint)g, (nint)mp, (nint)vp, c, static (a, b, cc, first, n, k) => Moments((float*)a + first, (float*)b + first, (float*)cc + first, n, k));
        using var root = v.sqrt();
        fixed (byte* p = parameter.bytes, mp = m.bytes, rp = root.bytes)
            Split(count, chunks, (nint)p, (nint)mp, (nint)rp, c, static (a, b, cc, first, n, k) => Parameter((float*)a + first, (float*)b + first, (float*)cc + first, n, k));
    }

    private delegate void Pass(nint a, nint b, nint c, long first, long count, StepConstants constants);

    /// <summary>Runs <paramref name="pass"/> over <paramref name="count"/> values in <paramref name="chunks"/> contiguous parts, in parallel.</summary>
    private static void Split(long count, int chunks, nint a, nint b, nint c, StepConstants constants, Pass pass)
    {
        if (chunks == 1)
        {
            pass(a, b, c, 0, count, constants);
            return;
        }
        long perChunk = (count + chunks - 1) / chunks;
        Parallel.For(0, chunks, new ParallelOptions { MaxDegreeOfParallelism = chunks }, k =>
        {
            long first = k * perChunk;
            pass(a, b, c, first, Math.Min(count, first + perChunk) - first, constants);
        });
    }

    /// <summary>
    /// m ← fma(g, 1−β₁, m·β₁) and v ← fma((1−β₂)·g, g, v·β₂): libtorch's vectorized <c>mul_</c> then <c>add_</c> (alpha:
    /// a fused multiply-add) and <c>mul_</c> then <c>addcmul_</c> (also fused), operation for operation.
    /// </summary>
    private static unsafe void Moments(float* g, float* m, float* v, long n, StepConstants c)
    {
        long i = 0;
        if (Vector.IsHardwareAccelerated)
        {
            var b1 = new Vector<float>(c.Beta1);
            var a1 = new Vector<float>(c.OneMinusBeta1);
            var b2 = new Vector<float>(c.Beta2);
            var a2 = new Vector<float>(c.OneMinusBeta2);
            for (int width = Vector<float>.Count; i + width <= n; i += width)
            {
                var gi = Vector.Load(g + i);
                Vector.FusedMultiplyAdd(gi, a1, Vector.Load(m + i) * b1).Store(m + i);
                Vector.FusedMultiplyAdd(a2 * gi, gi, Vector.Load(v + i) * b2).Store(v + i);
            }
        }
        for (; i < n; i++)
        {
            m[i] = MathF.FusedMultiplyAdd(g[i], c.OneMinusBeta1, m[i] * c.Beta1);
            v[i] = MathF.FusedMultiplyAdd(c.OneMinusBeta2 * g[i], g[i], v[i] * c.Beta2);
        }
    }

    /// <summary>p ← p + (s·m) / (√v / √bc₂ + ε): libtorch's <c>div</c>, <c>add_</c> and <c>addcdiv_</c> (which multiplies, then divides).</summary>
    private static unsafe void Parameter(float* p, float* m, float* root, long n, StepConstants c)
    {
        long i = 0;
        if (Vector.IsHardwareAccelerated)
        {
            var root2 = new Vector<float>(c.RootOfBiasCorrection2);
            var eps = new Vector<float>(c.Epsilon);
            var step = new Vector<float>(c.MinusStepSize);
            for (int width = Vector<float>.Count; i + width <= n; i += width)
            {
                var denominator = Vector.Load(root + i) / root2 + eps;
                (Vector.Load(p + i) + step * Vector.Load(m + i) / denominator).Store(p + i);
            }
        }
        for (; i < n; i++)
            p[i] = p[i] + c.MinusStepSize * m[i] / (root[i] / c.RootOfBiasCorrection2 + c.Epsilon);
    }

    public void Dispose()
    {
        foreach (var moment in firstMoments.Concat(secondMoments))
            moment.Dispose();
        beta1.Dispose();
        oneMinusBeta1.Dispose();
        beta2.Dispose();
        oneMinusBeta2.Dispose();
        epsilon.Dispose();
        one.Dispose();
    }
}
