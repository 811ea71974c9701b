using MLNetVae.Training;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace MLNetVae.Tests.Training;

/// <summary>
/// The trainer's one-pass CPU Adam against the eight tensor operations of optim.Adam it replaces: equal bit for bit on
/// the network's parameter shapes, whatever the thread count, over several steps.
/// </summary>
public class VaeAdamTests
{
    private static readonly long[][] Shapes = [[512, 768], [512], [256, 96], [96], [16]];

    [Theory]
    [InlineData(1)]
    [InlineData(2)]
    [InlineData(3)]
    public void TheFusedStepEqualsTheOperatorStepBitForBit(int threads)
    {
        using var scope = NewDisposeScope();
        var fused = Parameters(seed: 1);
        var operators = Parameters(seed: 1);
        using var fusedAdam = new VaeAdam(fused, learningRate: 1e-3) { Threads = threads };
        using var operatorAdam = new VaeAdam(operators, learningRate: 1e-3) { UseOperatorsOnly = true };
        var random = new Random(7);
        for (int step = 1; step <= 5; step++)
        {
            // The same gradients for both, large and tiny values mixed, as after a few hundred steps of training.
            var gradients = Shapes.Select(s => randn(s, generator: new Generator((ulong)(step * 31 + s.Length))) * (float)Math.Pow(10, random.Next(-6, 3))).ToArray();
            SetGradients(fused, gradients);
            SetGradients(operators, gradients);
            fusedAdam.Step();
            operatorAdam.Step();
            Assert.True(fusedAdam.LastStepWasFused);
            Assert.False(operatorAdam.LastStepWasFused);
            for (int i = 0; i < fused.Length; i++)
                Assert.Equal(operators[i].data<float>().ToArray(), fused[i].data<float>().ToArray());
        }
    }

    [Fact]
    public void ZeroGradDropsTheGradientsOnTheCpu()
    {
        using var scope = NewDisposeScope();
        var parameters = Parameters(seed: 2);
        using var adam = new VaeAdam(parameters, learningRate: 1e-3);
        SetGradients(parameters, Shapes.Select(s => ones(s)).ToArray());
        adam.ZeroGrad();
        Assert.All(parameters, p => Assert.Null(p.grad));
        // A backward pass then hands its gradient over: exactly d(sum(2p))/dp = 2, not 2 added to a stale one.
        var loss = parameters.Select(p => (p * 2).sum()).Aggregate((a, b) => a + b);
        loss.backward();
        Assert.All(parameters, p => Assert.All(p.grad!.data<float>().ToArray(), g => Assert.Equal(2f, g)));
    }

    private static Parameter[] Parameters(int seed)
    {
        var generator = new Generator((ulong)seed);
        return Shapes.Select(s => new Parameter(randn(s, generator: generator))).ToArray();
    }

    private static void SetGradients(Parameter[] parameters, Tensor[] gradients)
    {
        for (int i = 0; i < parameters.Length; i++)
            parameters[i].grad = gradients[i].clone();
    }
}
