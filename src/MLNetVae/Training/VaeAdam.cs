using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace MLNetVae.Training;

/// <summary>
/// Adam (Kingma &amp; Ba) with exactly the operations of TorchSharp's <c>optim.Adam</c> (no weight decay, no AMSGrad),
/// so the weights are bit-identical to it, but with every number passed to libtorch held in a <see cref="Scalar"/> that
/// outlives the call. TorchSharp's own Adam passes temporaries (<c>add_(eps)</c> adds an implicit <c>alpha: 1</c>) that
/// a garbage collection on another thread can free while libtorch reads them; see <see cref="TrainingScalars"/>.
/// </summary>
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
        firstMoments = this.parameters.Select(p => zeros_like(p)).ToArray();
        secondMoments = this.parameters.Select(p => zeros_like(p)).ToArray();
    }

    /// <summary>Sets every parameter's gradient to zero.</summary>
    public void ZeroGrad()
    {
        foreach (var parameter in parameters)
        {
            using var grad = parameter.grad;
            grad?.zero_();
        }
    }

    /// <summary>One update from the current gradients.</summary>
    public void Step()
    {
        steps++;
        double biasCorrection1 = 1 - Math.Pow(beta1Value, steps);
        double biasCorrection2 = 1 - Math.Pow(beta2Value, steps);
        using var rootOfBiasCorrection2 = Math.Sqrt(biasCorrection2).ToScalar();
        using var minusStepSize = (-(learningRate / biasCorrection1)).ToScalar();
        using var _ = no_grad();
        for (int i = 0; i < parameters.Length; i++)
        {
            using var grad = parameters[i].grad;
            if (grad is null)
                continue;
            // In-place operations return the tensor they were called on (TorchSharp 0.107), so nothing new to dispose.
            firstMoments[i].mul_(beta1).add_(grad, alpha: oneMinusBeta1);
            secondMoments[i].mul_(beta2).addcmul_(grad, grad, value: oneMinusBeta2);
            using var root = secondMoments[i].sqrt();
            using var denominator = root.div(rootOfBiasCorrection2);
            denominator.add_(epsilon, alpha: one);
            parameters[i].addcdiv_(firstMoments[i], denominator, value: minusStepSize);
        }
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
