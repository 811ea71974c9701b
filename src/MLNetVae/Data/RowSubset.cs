using Microsoft.ML;
using Microsoft.ML.Data;

namespace MLNetVae.Data;

/// <summary>
/// A seeded random split of a data view's rows into two disjoint views that stream from the source (nothing is
/// copied). A row's side depends only on the seed and its position in the source, so every pass, and every view made
/// with the same seed, agrees.
/// </summary>
internal static class RowSubset
{
    /// <summary>Whether the row at <paramref name="position"/> is held out: a uniform draw from (seed, position) below <paramref name="fraction"/>.</summary>
    public static bool IsHeldOut(long position, double fraction, int seed)
    {
        // SplitMix64 of (seed, position): well mixed even for consecutive positions.
        ulong z = unchecked(((ulong)(uint)seed << 32) ^ (ulong)position) + 0x9E3779B97F4A7C15UL;
        z = unchecked((z ^ (z >> 30)) * 0xBF58476D1CE4E5B9UL);
        z = unchecked((z ^ (z >> 27)) * 0x94D049BB133111EBUL);
        z ^= z >> 31;
        return (z >> 11) * (1.0 / (1UL << 53)) < fraction;
    }

    /// <summary>The rows kept (not held out) and the rows held out.</summary>
    public static (IDataView Kept, IDataView HeldOut) Split(IDataView source, double fraction, int seed) =>
        (new FilteredView(source, p => !IsHeldOut(p, fraction, seed)), new FilteredView(source, p => IsHeldOut(p, fraction, seed)));

    /// <summary>The rows of <c>source</c> whose position satisfies a predicate, in source order.</summary>
    private sealed class FilteredView(IDataView source, Func<long, bool> keep) : IDataView
    {
        // Positions identify rows only in the source's own order: no shuffling, one cursor.
        public bool CanShuffle => false;
        public DataViewSchema Schema => source.Schema;
        public long? GetRowCount() => null;

        public DataViewRowCursor GetRowCursor(IEnumerable<DataViewSchema.Column> columnsNeeded, Random? rand = null) =>
            new Cursor(source.GetRowCursor(columnsNeeded), keep);

        public DataViewRowCursor[] GetRowCursorSet(IEnumerable<DataViewSchema.Column> columnsNeeded, int n, Random? rand = null) =>
            new[] { GetRowCursor(columnsNeeded) };

        private sealed class Cursor(DataViewRowCursor upstream, Func<long, bool> keep) : DataViewRowCursor
        {
            private long position = -1;

            public override DataViewSchema Schema => upstream.Schema;
            public override long Position => position;
            public override long Batch => upstream.Batch;
            public override bool IsColumnActive(DataViewSchema.Column column) => upstream.IsColumnActive(column);
            public override ValueGetter<TValue> GetGetter<TValue>(DataViewSchema.Column column) => upstream.GetGetter<TValue>(column);
            public override ValueGetter<DataViewRowId> GetIdGetter() => upstream.GetIdGetter();

            public override bool MoveNext()
            {
                while (upstream.MoveNext())
                {
                    if (keep(upstream.Position))
                    {
                        position++;
                        return true;
                    }
                }
                position = -1; // DataViewRow's contract: -1 once MoveNext has returned false
                return false;
            }

            protected override void Dispose(bool disposing)
            {
                if (disposing)
                    upstream.Dispose();
                base.Dispose(disposing);
            }
        }
    }
}
