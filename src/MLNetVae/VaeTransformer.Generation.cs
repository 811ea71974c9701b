using MLNetVae.Scoring;

namespace MLNetVae;

// Generation and raw-array access: drawing new rows from the prior, walking the latent space between two rows,
// and reconstructing rows held as arrays. Everything runs through the same ONNX Runtime sessions as Transform and
// works in the input's original scale (the standardization is folded into the exported graphs).
public sealed partial class VaeTransformer
{
    /// <summary>Rows per ONNX Runtime call for the array methods: those of <see cref="Transform"/>'s blocks.</summary>
    private int GenerationBlockRows => BlockScoring.BlockRowsFor(InputDim);

    /// <summary>
    /// Draws <paramref name="count"/> new rows: z ~ N(0, I) in the latent space, decoded. The rows are in the input's
    /// original scale. With the same <paramref name="seed"/> the result is the same on every run.
    /// </summary>
    /// <param name="count">Number of rows, &gt; 0.</param>
    /// <param name="seed">Seed of the latent noise; <see langword="null"/> draws one from the <c>MLContext</c>'s random source.</param>
    /// <returns><paramref name="count"/> arrays of <see cref="InputDim"/> values.</returns>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="count"/> is not positive, or so large that its rows overflow an array.</exception>
    public float[][] Sample(int count, int? seed = null)
    {
        if (count <= 0)
            throw new ArgumentOutOfRangeException(nameof(count), count, $"Sample needs a count > 0; it is {count}.");
        RequireRowsFit(count, nameof(count), nameof(Sample));
        int actualSeed = seed ?? environment.Register(nameof(Sample)).Rand.Next();
        var noise = GaussianNoise.ForSeed(actualSeed);
        var z = new float[count * LatentDim];
        noise.Fill(z);
        return DecodeRows(z, count);
    }

    /// <summary>
    /// Decodes the straight line between the latent means of two rows: <paramref name="steps"/> points
    /// <c>mu(a) + t · (mu(b) − mu(a))</c> with t = 0, 1/(steps − 1), …, 1. The first result is the reconstruction of
    /// <paramref name="a"/> (decoder(mu(a))) and the last that of <paramref name="b"/>. Rows in the original scale.
    /// </summary>
    /// <param name="a">Start row, <see cref="InputDim"/> finite values in the original scale.</param>
    /// <param name="b">End row, <see cref="InputDim"/> finite values in the original scale.</param>
    /// <param name="steps">Number of rows returned, ends included: at least 2.</param>
    /// <exception cref="ArgumentException">A row has the wrong length or a NaN/∞ value (the message says which).</exception>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="steps"/> is less than 2, or so large that its rows overflow an array.</exception>
    public float[][] Interpolate(float[] a, float[] b, int steps)
    {
        RequireRow(a, nameof(a), null);
        RequireRow(b, nameof(b), null);
        if (steps < 2)
            throw new ArgumentOutOfRangeException(nameof(steps), steps, $"Interpolate needs at least 2 steps (both ends); it is {steps}.");
        RequireRowsFit(steps, nameof(steps), nameof(Interpolate));

        using var lease = LeaseScorer();
        var scorer = lease.Scorer;
        var block = new VaeBlock(2, InputDim, LatentDim);
        a.CopyTo(block.InputRow(0));
        b.CopyTo(block.InputRow(1));
        block.Rows = 2;
        scorer.Score(block, VaeOutputs.Mu);
        var muA = block.MuRow(0);
        var muB = block.MuRow(1);

        int latent = LatentDim;
        var z = new float[steps * latent];
        for (int i = 0; i < steps; i++)
        {
            float t = i / (float)(steps - 1);
            var row = z.AsSpan(i * latent, latent);
            for (int k = 0; k < latent; k++)
                row[k] = muA[k] + t * (muB[k] - muA[k]);
        }
        // Exact ends, so the first and last rows are decoder(mu(a)) and decoder(mu(b)) to the bit.
        muA.CopyTo(z.AsSpan(0, latent));
        muB.CopyTo(z.AsSpan((steps - 1) * latent, latent));
        return DecodeRows(z, steps);
    }

    /// <summary>
    /// Reconstructs rows held as arrays: decoder(mu(x)) for each, in the original scale — the same values as the
    /// <see cref="VaeOptions.ReconstructionColumnName"/> column of <see cref="Transform"/>.
    /// </summary>
    /// <param name="rows">Rows of <see cref="InputDim"/> finite values each.</param>
    /// <exception cref="ArgumentException">A row is null, has the wrong length or a NaN/∞ value (the message names the row and feature).</exception>
    public float[][] Reconstruct(float[][] rows)
    {
        ArgumentNullException.ThrowIfNull(rows);
        for (int i = 0; i < rows.Length; i++)
            RequireRow(rows[i], nameof(rows), i);
        var result = new float[rows.Length][];
        if (rows.Length == 0)
            return result;

        using var lease = LeaseScorer();
        var scorer = lease.Scorer;
        var block = new VaeBlock(Math.Min(GenerationBlockRows, rows.Length), InputDim, LatentDim);
        for (int start = 0; start < rows.Length; start += block.Capacity)
        {
            int n = Math.Min(block.Capacity, rows.Length - start);
            for (int i = 0; i < n; i++)
                rows[start + i].CopyTo(block.InputRow(i));
            block.Rows = n;
            scorer.Score(block, VaeOutputs.Reconstruction);
            for (int i = 0; i < n; i++)
                result[start + i] = block.ReconstructionRow(i).ToArray();
        }
        return result;
    }

    private float[][] DecodeRows(float[] z, int count)
    {
        using var lease = LeaseScorer();
        var scorer = lease.Scorer;
        int latent = LatentDim, inputDim = InputDim;
        var result = new float[count][];
        int capacity = Math.Min(GenerationBlockRows, count);
        var zBlock = new float[capacity * latent];
        var output = new float[capacity * inputDim];
        for (int start = 0; start < count; start += capacity)
        {
            int n = Math.Min(capacity, count - start);
            z.AsSpan(start * latent, n * latent).CopyTo(zBlock);
            scorer.Decode(zBlock, output, n);
            for (int i = 0; i < n; i++)
                result[start + i] = output.AsSpan(i * inputDim, inputDim).ToArray();
        }
        return result;
    }

    /// <summary>
    /// The latent codes of <paramref name="rows"/> rows are one array (rows × latent), and the decoded rows must exist
    /// too: a count whose sizes overflow an array is refused up front instead of failing inside the arithmetic.
    /// </summary>
    private void RequireRowsFit(int rows, string parameter, string method)
    {
        long values = (long)rows * Math.Max(LatentDim, InputDim);
        if (values > Array.MaxLength)
            throw new ArgumentOutOfRangeException(parameter, rows,
                $"{method} cannot make {rows:N0} rows: {rows:N0} x {Math.Max(LatentDim, InputDim)} values exceed the largest array " +
                $"({Array.MaxLength:N0}). Ask for at most {Array.MaxLength / Math.Max(LatentDim, InputDim):N0} rows per call.");
    }

    private void RequireRow(float[]? row, string parameter, int? index)
    {
        string name = index is { } i ? $"{parameter}[{i}]" : parameter;
        if (row is null)
            throw new ArgumentNullException(parameter, $"{name} is null.");
        if (row.Length != InputDim)
            throw new ArgumentException($"{name} has {row.Length} values; this model takes {InputDim} features.", parameter);
        for (int j = 0; j < row.Length; j++)
        {
            if (!float.IsFinite(row[j]))
                throw new ArgumentException($"{name} feature {j} is {row[j]}; the VAE needs finite values.", parameter);
        }
    }
}
