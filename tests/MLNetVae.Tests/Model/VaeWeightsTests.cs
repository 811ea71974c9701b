using MLNetVae.Model;

namespace MLNetVae.Tests.Model;

public class VaeWeightsTests
{
    [Fact]
    public void LayerRejectsAWeightArrayOfTheWrongSize()
    {
        var ex = Assert.Throws<ArgumentException>(() => new LinearLayerWeights(2, 3, new float[5], new float[3]));
        Assert.Contains("needs 6", ex.Message);
    }

    [Fact]
    public void ModelRejectsLayersThatDoNotChain()
    {
        LinearLayerWeights L(int i, int o) => new(i, o, new float[i * o], new float[o]);
        var ex = Assert.Throws<ArgumentException>(() =>
            new VaeWeights(new[] { L(5, 8), L(8, 8), L(8, 6) }, new[] { L(3, 8), L(7, 8), L(8, 5) }, null));
        Assert.Contains("decoder layer 2 is 7→8; the architecture needs 8→8", ex.Message);
    }

    [Fact]
    public void StandardizationMustHaveOneScalePerFeatureAndNoZeroScale()
    {
        Assert.Throws<ArgumentException>(() => new FeatureStandardization(new float[3], new float[] { 1, 1 }));
        Assert.Throws<ArgumentException>(() => new FeatureStandardization(new float[2], new float[] { 1, 0 }));
    }
}
