namespace MLNetVae.Cli.Evaluation;

/// <summary>The points of a ROC curve: false-positive rate and true-positive rate as the threshold falls through the scores.</summary>
internal sealed record RocPoints(double[] FalsePositiveRate, double[] TruePositiveRate)
{
    /// <summary>Area under the curve by the trapezoid rule (ties count half, like the rank statistic).</summary>
    public double Area()
    {
        double area = 0;
        for (int i = 1; i < FalsePositiveRate.Length; i++)
            area += (FalsePositiveRate[i] - FalsePositiveRate[i - 1]) * (TruePositiveRate[i] + TruePositiveRate[i - 1]) / 2;
        return area;
    }
}

internal static class RocCurve
{
    /// <summary>
    /// Sorts by score, highest first, and adds one point per distinct score (tied rows move the curve diagonally), from
    /// (0, 0) to (1, 1). Labels are 1 = anomaly (positive), anything else normal.
    /// </summary>
    public static RocPoints Compute(float[] labels, float[] scores)
    {
        int positives = labels.Count(l => l == 1f), negatives = labels.Length - positives;
        if (positives == 0 || negatives == 0)
            throw new InvalidOperationException("A ROC curve needs both anomalous and normal rows.");
        var order = Enumerable.Range(0, scores.Length).OrderByDescending(i => scores[i]).ToArray();
        var fpr = new List<double> { 0 };
        var tpr = new List<double> { 0 };
        int tp = 0, fp = 0;
        for (int k = 0; k < order.Length; k++)
        {
            if (labels[order[k]] == 1f) tp++; else fp++;
            bool lastOfTie = k == order.Length - 1 || scores[order[k + 1]] != scores[order[k]];
            if (lastOfTie)
            {
                fpr.Add((double)fp / negatives);
                tpr.Add((double)tp / positives);
            }
        }
        return new RocPoints(fpr.ToArray(), tpr.ToArray());
    }
}
