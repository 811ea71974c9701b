namespace MLNetVae.Cli.Evaluation;

/// <summary>Rows projected onto the first two principal components, and the share of variance each explains.</summary>
internal sealed record Projection2D(double[] X, double[] Y, double ExplainedX, double ExplainedY);

/// <summary>
/// A small PCA to two dimensions for plotting the latent means: the covariance matrix (latent × latent, small), its two
/// leading eigenvectors by power iteration with deflation, and the centred rows projected onto them.
/// </summary>
internal static class LatentProjection
{
    public static Projection2D ToTwoDimensions(float[][] rows)
    {
        if (rows.Length == 0)
            return new Projection2D([], [], 0, 0);
        int n = rows.Length, d = rows[0].Length;
        var mean = new double[d];
        foreach (var row in rows)
            for (int j = 0; j < d; j++)
                mean[j] += row[j];
        for (int j = 0; j < d; j++)
            mean[j] /= n;

        var covariance = new double[d, d];
        var centred = new double[d];
        foreach (var row in rows)
        {
            for (int j = 0; j < d; j++)
                centred[j] = row[j] - mean[j];
            for (int a = 0; a < d; a++)
                for (int b = a; b < d; b++)
                    covariance[a, b] += centred[a] * centred[b];
        }
        double totalVariance = 0;
        for (int a = 0; a < d; a++)
        {
            for (int b = a; b < d; b++)
                covariance[b, a] = covariance[a, b] /= Math.Max(1, n - 1);
            totalVariance += covariance[a, a];
        }

        var (first, lambda1) = LeadingEigenvector(covariance, d);
        for (int a = 0; a < d; a++)
            for (int b = 0; b < d; b++)
                covariance[a, b] -= lambda1 * first[a] * first[b];
        var (second, lambda2) = d > 1 ? LeadingEigenvector(covariance, d) : (new double[d], 0);

        var x = new double[n];
        var y = new double[n];
        for (int i = 0; i < n; i++)
            for (int j = 0; j < d; j++)
            {
                double c = rows[i][j] - mean[j];
                x[i] += c * first[j];
                y[i] += c * second[j];
            }
        return totalVariance > 0
            ? new Projection2D(x, y, lambda1 / totalVariance, lambda2 / totalVariance)
            : new Projection2D(x, y, 0, 0);
    }

    private static (double[] Vector, double Eigenvalue) LeadingEigenvector(double[,] matrix, int d)
    {
        // Deterministic start with every component non-zero, so no eigenvector is orthogonal to it by construction.
        var v = new double[d];
        for (int j = 0; j < d; j++)
            v[j] = 1.0 + 0.01 * j;
        Normalize(v);
        var next = new double[d];
        double eigenvalue = 0;
        for (int iteration = 0; iteration < 1000; iteration++)
        {
            for (int a = 0; a < d; a++)
            {
                double sum = 0;
                for (int b = 0; b < d; b++)
                    sum += matrix[a, b] * v[b];
                next[a] = sum;
            }
            double norm = Normalize(next);
            if (norm == 0)
                return (v, 0);
            double change = 0;
            for (int j = 0; j < d; j++)
                change = Math.Max(change, Math.Abs(next[j] - v[j]));
            Array.Copy(next, v, d);
            eigenvalue = norm;
            if (change < 1e-10)
                break;
        }
        // Fix the sign so the plot does not flip between runs of a power iteration that converged from either side.
        int largest = 0;
        for (int j = 1; j < d; j++)
            if (Math.Abs(v[j]) > Math.Abs(v[largest]))
                largest = j;
        if (v[largest] < 0)
            for (int j = 0; j < d; j++)
                v[j] = -v[j];
        return (v, eigenvalue);
    }

    private static double Normalize(double[] v)
    {
        double norm = Math.Sqrt(v.Sum(x => x * x));
        if (norm > 0)
            for (int j = 0; j < v.Length; j++)
                v[j] /= norm;
        return norm;
    }
}
