using MLNetVae.Data;
using MLNetVae.Training;
using MLNetVae.Tests.TestSupport;

namespace MLNetVae.Tests.Training;

/// <summary>The standardization's scales: by standard deviation, with the floor, and near-constant features by their excursions.</summary>
public sealed class StandardizationTests
{
    /// <summary>1,000 rows: a continuous feature, a feature that is 0 except for 2 specks of 128, a constant, and a 0/1 indicator at 30%.</summary>
    private static FeatureMatrix Columns()
    {
        var random = new Random(1);
        var rows = Enumerable.Range(0, 1000).Select(i => new[]
        {
            (float)(random.NextDouble() * 10), i is 100 or 700 ? 128f : 0f, 3f, i % 10 < 3 ? 1f : 0f,
        }).ToArray();
        return FeatureMatrix.Read(TestData.FromArrays(new Microsoft.ML.MLContext(), rows), "Features");
    }

    [Fact]
    public void NearConstantFeaturesAreScaledByTheirExcursionsAndNothingElseChanges()
    {
        var data = Columns();
        var all = Enumerable.Range(0, data.Rows).ToArray();
        var byStd = StandardizationFitter.Fit(data, all, floorFraction: 0.01);
        var byExcursions = StandardizationFitter.Fit(data, all, floorFraction: 0.01, scaleNearConstantByExcursions: true);

        // The speck feature: std = 128·√(0.002·0.998) ≈ 5.7, so a speck was 22 standard deviations; now it is ~1.
        Assert.Equal(5.72f, byStd.Scale[1], 0.01f);
        Assert.Equal(5.72f / MathF.Sqrt(0.002f), byExcursions.Scale[1], 0.5f);
        Assert.InRange(128f / byExcursions.Scale[1], 0.9f, 1.1f);
        // Continuous, constant (scale 1, the constant rule) and a common indicator (70% zeros is not near-constant): unchanged.
        // A feature at its common value in 99% of rows or fewer is not near-constant either (StandardizationFitter.NearConstantShare).
        foreach (int j in new[] { 0, 2, 3 })
            Assert.Equal(byStd.Scale[j], byExcursions.Scale[j]);
        Assert.Equal(1f, byExcursions.Scale[2]);
        Assert.Equal(byStd.Mean, byExcursions.Mean);
    }

    [Fact]
    public void TheModalShareIsTheShareAtTheMinimumOrTheMaximum()
    {
        var data = Columns();
        var share = StandardizationFitter.ModalShare(data, Enumerable.Range(0, data.Rows).ToArray());
        Assert.Equal(0.001, share[0], 3);   // continuous: one row at its minimum
        Assert.Equal(0.998, share[1], 6);   // 0 in all but two rows
        Assert.Equal(1.0, share[2], 6);     // constant
        Assert.Equal(0.7, share[3], 6);     // 0 in 70% of rows
    }
}
