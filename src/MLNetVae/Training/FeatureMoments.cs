namespace MLNetVae.Training;

/// <summary>
/// Per-feature statistics of rows seen one at a time, for the streaming path, which cannot read its rows twice cheaply:
/// mean and variance (Welford's update in double), the smallest and largest value, and how many rows sit at each (the
/// modal share that <see cref="StandardizationFitter.ModalShare"/> computes in two passes, here in one: a new minimum
/// restarts its count).
/// </summary>
internal sealed class FeatureMoments
{
    private readonly double[] mean;
    private readonly double[] m2;
    private readonly float[] min;
    private readonly float[] max;
    private readonly long[] atMin;
    private readonly long[] atMax;

    public FeatureMoments(int columns)
    {
        mean = new double[columns];
        m2 = new double[columns];
        min = new float[columns];
        max = new float[columns];
        atMin = new long[columns];
        atMax = new long[columns];
        Array.Fill(min, float.PositiveInfinity);
        Array.Fill(max, float.NegativeInfinity);
    }

    public long Count { get; private set; }
    public int Columns => mean.Length;

    public void Add(ReadOnlySpan<float> row)
    {
        Count++;
        double inverseCount = 1.0 / Count;
        for (int j = 0; j < row.Length; j++)
        {
            float x = row[j];
            double delta = x - mean[j];
            mean[j] += delta * inverseCount;
            m2[j] += delta * (x - mean[j]);
            if (x < min[j]) { min[j] = x; atMin[j] = 1; }
            else if (x == min[j]) atMin[j]++;
            if (x > max[j]) { max[j] = x; atMax[j] = 1; }
            else if (x == max[j]) atMax[j]++;
        }
    }

    public double[] Mean => (double[])mean.Clone();
    public float[] Min => (float[])min.Clone();
    public float[] Max => (float[])max.Clone();

    /// <summary>Population standard deviation per feature.</summary>
    public double[] StandardDeviation => m2.Select(s => Math.Sqrt(Math.Max(0, s) / Math.Max(1, Count))).ToArray();

    /// <summary>Per feature, the share of rows at its minimum or its maximum, whichever is larger (as <see cref="StandardizationFitter.ModalShare"/>).</summary>
    public double[] ModalShare()
    {
        var share = new double[Columns];
        for (int j = 0; j < share.Length; j++)
            share[j] = Math.Max(atMin[j], atMax[j]) / (double)Math.Max(1, Count);
        return share;
    }

    /// <summary>The standardization these rows give, exactly as <see cref="StandardizationFitter.Fit"/> defines it.</summary>
    public Model.FeatureStandardization Standardization(double floorFraction, bool scaleNearConstantByExcursions) =>
        StandardizationFitter.FromMoments(Mean, StandardDeviation, scaleNearConstantByExcursions ? ModalShare() : null, floorFraction);

    /// <summary>
    /// Mean over the rows of Σ x², after <paramref name="standardization"/> when given: the loss of reconstructing every row
    /// as zero (<see cref="VaeTrainer.ZeroReconstructionLoss"/> without its per-feature term), from the moments alone.
    /// </summary>
    public double MeanSquaredNorm(Model.FeatureStandardization? standardization)
    {
        double total = 0;
        var std = StandardDeviation;
        for (int j = 0; j < Columns; j++)
        {
            double centre = standardization?.Mean[j] ?? 0, scale = standardization?.Scale[j] ?? 1;
            double offset = mean[j] - centre;
            total += (std[j] * std[j] + offset * offset) / (scale * scale);
        }
        return total;
    }
}
