namespace MLNetVae.Scoring;

/// <summary>
/// A small, fast, seeded source of standard normal noise (SplitMix64 + Box–Muller) whose sequence is fixed by its
/// seed alone, on every platform and .NET version: <c>VaeTransformer.Sample</c>'s latent draws and the anomaly
/// detector's noise table (<c>AnomalyScoreDefinition.NoiseTable</c>) come from it.
/// </summary>
internal struct GaussianNoise
{
    private ulong state;
    private double spare;
    private bool hasSpare;

    public GaussianNoise(ulong seed)
    {
        state = seed;
        spare = 0;
        hasSpare = false;
    }

    /// <summary>A generator for <paramref name="seed"/> and a stream number (e.g. 0 for sampling, 1 for scoring).</summary>
    public static GaussianNoise ForSeed(int seed, ulong stream = 0) =>
        new(Mix(Mix((ulong)(uint)seed + 0x632BE59BD9B4E019UL) ^ (stream * 0x9E3779B97F4A7C15UL)));

    /// <summary>The next standard normal value.</summary>
    public float NextNormal()
    {
        if (hasSpare)
        {
            hasSpare = false;
            return (float)spare;
        }
        double u1 = 1.0 - NextUniform(); // (0, 1]: log is finite
        double u2 = NextUniform();
        double radius = Math.Sqrt(-2.0 * Math.Log(u1));
        double angle = 2.0 * Math.PI * u2;
        spare = radius * Math.Sin(angle);
        hasSpare = true;
        return (float)(radius * Math.Cos(angle));
    }

    /// <summary>Fills <paramref name="destination"/> with standard normal values.</summary>
    public void Fill(Span<float> destination)
    {
        for (int i = 0; i < destination.Length; i++)
            destination[i] = NextNormal();
    }

    private double NextUniform() => (NextUInt64() >> 11) * (1.0 / (1UL << 53));

    private ulong NextUInt64()
    {
        state += 0x9E3779B97F4A7C15UL;
        return Mix(state);
    }

    /// <summary>SplitMix64's finalizer: a bijective 64-bit mix.</summary>
    private static ulong Mix(ulong z)
    {
        z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9UL;
        z = (z ^ (z >> 27)) * 0x94D049BB133111EBUL;
        return z ^ (z >> 31);
    }
}
