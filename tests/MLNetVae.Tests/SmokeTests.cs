namespace MLNetVae.Tests;

public class SmokeTests
{
    [Fact]
    public void ModelTypesValidateShapes()
    {
        var ex = Assert.Throws<ArgumentException>(() => new Model.LinearLayerWeights(2, 3, new float[5], new float[3]));
        Assert.Contains("needs 6", ex.Message);
    }
}
