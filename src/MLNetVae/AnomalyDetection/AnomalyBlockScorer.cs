using MLNetVae.Scoring;

namespace MLNetVae.AnomalyDetection;

/// <summary>What fixes a row's anomaly score and decision, besides the trained networks.</summary>
/// <param name="Kind">The score.</param>
/// <param name="Samples">Draws per row for the sampling scores.</param>
/// <param name="Seed">Seed of the noise table of the sampling scores.</param>
/// <param name="Beta">Weight of the KL term in <see cref="VaeAnomalyScoreKind.NegativeElbo"/>.</param>
/// <param name="Scale">Per-feature scale of the model's standardization (null: none), for the negative ELBO's squared error.</param>
/// <param name="LogVarianceLimit">Upper clamp of logvar in the sampling scores and the KL term, as in training (see <see cref="ScoreOverflow"/>).</param>
/// <param name="Threshold">A row is an anomaly when its score is above this.</param>
internal sealed record AnomalyScoring(VaeAnomalyScoreKind Kind, int Samples, int Seed, double Beta, float[]? Scale, float LogVarianceLimit, float Threshold)
{
    /// <summary>
    /// The draws of the sampling scores, eps[s, k] ~ N(0, 1) for s &lt; <see cref="Samples"/>, k &lt; latent, row-major:
    /// one table per detector, fixed by <see cref="Seed"/>, shared by every row. A row's score is then a function of
    /// the row (common random numbers: rows are compared under the same draws), and the whole score is a fixed
    /// computation that an ONNX graph can carry.
    /// </summary>
    public float[] NoiseTable(int latentDim)
    {
        var table = new float[Samples * latentDim];
        GaussianNoise.ForSeed(Seed, stream: NoiseStream).Fill(table);
        return table;
    }

    /// <summary>The generator stream of the noise table (stream 0 is <c>VaeTransformer.Sample</c>'s).</summary>
    private const ulong NoiseStream = 2;
}

/// <summary>Buffers of one block of rows: the VAE's block (input, latent, reconstruction) plus scores and sampling scratch.</summary>
internal sealed class AnomalyBlock
{
    public AnomalyBlock(ScoringBlock vae)
    {
        Vae = vae;
        Score = new float[vae.Capacity];
    }

    public ScoringBlock Vae { get; }
    public int Capacity => Vae.Capacity;
    public float[] Score { get; }

    // Sampling scratch, allocated on first use: latent draws, their decodings, sums per row.
    public float[]? Z { get; set; }
    public float[]? Sampled { get; set; }
    public double[]? Sums { get; set; }

    /// <summary>(x − decoder(mu))² per feature of <paramref name="row"/>, in the original scale.</summary>
    public void PerFeatureError(int row, Span<float> destination)
    {
        var x = Vae.InputRow(row);
        var reconstruction = Vae.ReconstructionRow(row);
        for (int j = 0; j < x.Length; j++)
        {
            float d = x[j] - reconstruction[j];
            destination[j] = d * d;
        }
    }
}

/// <summary>
/// Scores blocks of rows for anomaly detection with the VAE's ONNX Runtime sessions: the encoder once per block,
/// the decoder once per block for the deterministic score and the per-feature errors, and once per draw for the
/// sampling scores. Thread-safe: all state lives in the block.
/// </summary>
internal sealed class AnomalyBlockScorer
{
    public AnomalyBlockScorer(VaeOnnxScorer scorer, AnomalyScoring scoring, float[] noiseTable)
    {
        Vae = scorer;
        Scoring = scoring;
        this.noiseTable = noiseTable;
    }

    private readonly float[] noiseTable;

    public VaeOnnxScorer Vae { get; }
    public AnomalyScoring Scoring { get; }

    /// <summary>Fills what <paramref name="outputs"/> need for the block's first <see cref="ScoringBlock.Rows"/> rows.</summary>
    public void Score(AnomalyBlock block, AnomalyOutputs outputs)
    {
        var vae = block.Vae;
        int n = vae.Rows;
        bool needScore = (outputs & (AnomalyOutputs.Score | AnomalyOutputs.PredictedLabel)) != 0;
        bool needPerFeature = (outputs & AnomalyOutputs.PerFeatureError) != 0;
        if (n == 0 || (!needScore && !needPerFeature))
            return;

        bool deterministic = Scoring.Kind == VaeAnomalyScoreKind.ReconstructionError;
        var vaeOutputs = VaeOutputs.Encoder;
        if (needPerFeature)
            vaeOutputs |= VaeOutputs.Reconstruction;
        if (needScore && deterministic)
            vaeOutputs |= VaeOutputs.ReconstructionError;
        Vae.Score(vae, vaeOutputs);

        if (!needScore)
            return;
        if (deterministic)
            vae.Error.AsSpan(0, n).CopyTo(block.Score);
        else
            ScoreBySampling(block, n);
    }

    private void ScoreBySampling(AnomalyBlock block, int n)
    {
        var vae = block.Vae;
        int latent = vae.LatentDim, inputDim = vae.InputDim, capacity = block.Capacity;
        var z = block.Z ??= new float[capacity * latent];
        var sampled = block.Sampled ??= new float[capacity * inputDim];
        var sums = block.Sums ??= new double[capacity];
        float limit = Scoring.LogVarianceLimit;
        bool elbo = Scoring.Kind == VaeAnomalyScoreKind.NegativeElbo;

        sums.AsSpan(0, n).Clear();
        for (int s = 0; s < Scoring.Samples; s++)
        {
            var eps = noiseTable.AsSpan(s * latent, latent);
            for (int i = 0; i < n; i++)
            {
                var mu = vae.MuRow(i);
                var logVar = vae.LogVarRow(i);
                var row = z.AsSpan(i * latent, latent);
                for (int k = 0; k < latent; k++)
                    row[k] = mu[k] + MathF.Exp(0.5f * ScoreOverflow.ClampLogVariance(logVar[k], limit)) * eps[k];
            }
            Vae.Decode(z, sampled, n);
            for (int i = 0; i < n; i++)
            {
                var x = vae.InputRow(i);
                var reconstruction = sampled.AsSpan(i * inputDim, inputDim);
                sums[i] += elbo
                    ? StandardizedSquaredError(x, reconstruction, Scoring.Scale)
                    : VaeOnnxScorer.MeanSquaredError(x, reconstruction, vae.Difference);
            }
        }
        for (int i = 0; i < n; i++)
        {
            double score = sums[i] / Scoring.Samples;
            if (elbo)
                score += Scoring.Beta * KlDivergence(vae.MuRow(i), vae.LogVarRow(i), limit);
            block.Score[i] = ScoreOverflow.Finish((float)score, vae.InputRow(i));
        }
    }

    /// <summary>Σ ((x − x̂) / scale)²: the training loss's reconstruction term, in the scale the network was trained in.</summary>
    internal static double StandardizedSquaredError(ReadOnlySpan<float> x, ReadOnlySpan<float> reconstruction, float[]? scale)
    {
        double sum = 0;
        for (int j = 0; j < x.Length; j++)
        {
            double d = x[j] - reconstruction[j];
            if (scale is not null)
                d /= scale[j];
            sum += d * d;
        }
        return sum;
    }

    /// <summary>KL(N(mu, exp(logvar)) ‖ N(0, I)) of one row, with logvar clamped at <paramref name="logVarianceLimit"/>.</summary>
    internal static double KlDivergence(ReadOnlySpan<float> mu, ReadOnlySpan<float> logVar, float logVarianceLimit)
    {
        double sum = 0;
        for (int k = 0; k < mu.Length; k++)
        {
            float lv = ScoreOverflow.ClampLogVariance(logVar[k], logVarianceLimit);
            sum += 1 + lv - (double)mu[k] * mu[k] - Math.Exp(lv); // 1 + lv in float32, as format-1 detectors computed it
        }
        return -0.5 * sum;
    }
}
