namespace MLNetVae.Scoring;

/// <summary>A scorer that owns ONNX Runtime sessions and releases them through <see cref="ScorerLeases"/>.</summary>
internal interface ILeasedScorer
{
    ScorerLeases Leases { get; }
}

/// <summary>
/// Keeps a scorer's ONNX Runtime sessions alive while anyone scores with them: every scoring call holds a lease, and
/// <see cref="Retire"/> frees the sessions now, or when the last lease ends. Without this, one <c>PredictionEngine</c>
/// disposing the transformer (as ML.NET's engines do) freed the sessions under every other engine and cursor of that
/// transformer, which then failed or crashed the process.
/// </summary>
internal sealed class ScorerLeases(Action releaseSessions)
{
    private readonly object gate = new();
    private int leases;
    private bool retired;
    private bool released;

    /// <summary>Whether the sessions have been released (retired and no lease left).</summary>
    public bool IsReleased
    {
        get
        {
            lock (gate)
                return released;
        }
    }

    /// <summary>Takes a lease on <paramref name="scorer"/>. Fails once the scorer is retired.</summary>
    public ScorerLease<TScorer> Acquire<TScorer>(TScorer scorer) where TScorer : class, ILeasedScorer
    {
        lock (gate)
        {
            if (retired)
                throw new ObjectDisposedException(typeof(TScorer).Name, "This scorer was retired; ask the transformer for a new lease.");
            leases++;
        }
        return new ScorerLease<TScorer>(scorer);
    }

    internal void Release()
    {
        lock (gate)
        {
            leases--;
            if (retired && leases == 0)
                ReleaseOnce();
        }
    }

    /// <summary>No new leases; the sessions are released now, or when the last lease ends.</summary>
    public void Retire()
    {
        lock (gate)
        {
            retired = true;
            if (leases == 0)
                ReleaseOnce();
        }
    }

    private void ReleaseOnce()
    {
        if (released)
            return;
        released = true;
        releaseSessions();
    }
}

/// <summary>A scorer that stays usable until this is disposed (once).</summary>
internal sealed class ScorerLease<TScorer>(TScorer scorer) : IDisposable where TScorer : class, ILeasedScorer
{
    private TScorer? scorer = scorer;

    public TScorer Scorer => scorer ?? throw new ObjectDisposedException(nameof(ScorerLease<TScorer>));

    public void Dispose() => Interlocked.Exchange(ref scorer, null)?.Leases.Release();
}

/// <summary>
/// The current scorer of a transformer: created on first use, retired by <see cref="Retire"/> (the transformer's
/// <c>Dispose</c>) and created again on the next use, so a disposed transformer stays usable.
/// </summary>
internal sealed class ScorerSlot<TScorer>(Func<TScorer> create) where TScorer : class, ILeasedScorer
{
    private readonly object gate = new();
    private TScorer? current;

    /// <summary>The current scorer, leased for one scoring call so that a concurrent <see cref="Retire"/> cannot release its sessions while they run.</summary>
    public ScorerLease<TScorer> Lease()
    {
        lock (gate)
        {
            current ??= create();
            return current.Leases.Acquire(current);
        }
    }

    public void Retire()
    {
        lock (gate)
        {
            current?.Leases.Retire();
            current = null;
        }
    }
}
