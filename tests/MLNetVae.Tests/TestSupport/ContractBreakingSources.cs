using Microsoft.ML;
using Microsoft.ML.Data;

namespace MLNetVae.Tests.TestSupport;

/// <summary>Reports a given row count, whatever the inner view holds (some sources do).</summary>
internal sealed class RowCountOverride(IDataView inner, long? rows) : IDataView
{
    public bool CanShuffle => inner.CanShuffle;
    public DataViewSchema Schema => inner.Schema;
    public long? GetRowCount() => rows;
    public DataViewRowCursor GetRowCursor(IEnumerable<DataViewSchema.Column> columnsNeeded, Random? rand = null) => inner.GetRowCursor(columnsNeeded, rand);
    public DataViewRowCursor[] GetRowCursorSet(IEnumerable<DataViewSchema.Column> columnsNeeded, int n, Random? rand = null) =>
        inner.GetRowCursorSet(columnsNeeded, n, rand);
}

/// <summary>
/// A view whose cursors break their schema's contract: column <paramref name="column"/> keeps its declared vector type,
/// but every row from <paramref name="fromRow"/> on is returned <paramref name="lengthChange"/> values shorter or longer.
/// </summary>
internal sealed class WrongLengthVectors(IDataView inner, string column, int lengthChange, long fromRow = 0) : IDataView
{
    public bool CanShuffle => false;
    public DataViewSchema Schema => inner.Schema;
    public long? GetRowCount() => inner.GetRowCount();

    public DataViewRowCursor GetRowCursor(IEnumerable<DataViewSchema.Column> columnsNeeded, Random? rand = null) =>
        new Cursor(inner.GetRowCursor(columnsNeeded), column, lengthChange, fromRow);

    public DataViewRowCursor[] GetRowCursorSet(IEnumerable<DataViewSchema.Column> columnsNeeded, int n, Random? rand = null) =>
        new[] { GetRowCursor(columnsNeeded) };

    private sealed class Cursor(DataViewRowCursor upstream, string column, int lengthChange, long fromRow) : DataViewRowCursor
    {
        public override DataViewSchema Schema => upstream.Schema;
        public override long Position => upstream.Position;
        public override long Batch => upstream.Batch;
        public override bool MoveNext() => upstream.MoveNext();
        public override bool IsColumnActive(DataViewSchema.Column c) => upstream.IsColumnActive(c);
        public override ValueGetter<DataViewRowId> GetIdGetter() => upstream.GetIdGetter();

        public override ValueGetter<TValue> GetGetter<TValue>(DataViewSchema.Column c)
        {
            var getter = upstream.GetGetter<TValue>(c);
            if (c.Name != column || typeof(TValue) != typeof(VBuffer<float>))
                return getter;
            var vectorGetter = (ValueGetter<VBuffer<float>>)(object)getter;
            var original = default(VBuffer<float>);
            ValueGetter<VBuffer<float>> changed = (ref VBuffer<float> value) =>
            {
                vectorGetter(ref original);
                if (upstream.Position < fromRow)
                {
                    original.CopyTo(ref value);
                    return;
                }
                var values = original.DenseValues().ToList();
                for (int i = 0; i < lengthChange; i++)
                    values.Add(1f);
                if (lengthChange < 0)
                    values.RemoveRange(values.Count + lengthChange, -lengthChange);
                value = new VBuffer<float>(values.Count, values.ToArray());
            };
            return (ValueGetter<TValue>)(object)changed;
        }

        protected override void Dispose(bool disposing)
        {
            if (disposing)
                upstream.Dispose();
            base.Dispose(disposing);
        }
    }
}
