using Microsoft.ML;
using Microsoft.ML.Data;
using MLNetVae.Data;

namespace MLNetVae.Scoring;

/// <summary>
/// The lazy result of a scoring transformer's <c>Transform</c>: nothing is computed until a cursor moves, and then rows
/// are scored a block at a time (one ONNX Runtime call per network and block) by <see cref="BlockCursor"/>.
/// What is scored and which columns are added comes from <typeparamref name="TBlock"/>'s <see cref="IBlockScoring{TBlock}"/>.
/// </summary>
internal sealed class BlockScoredDataView<TBlock> : IDataView where TBlock : class
{
    private readonly IDataView source;
    private readonly IBlockScoring<TBlock> scoring;
    private readonly int blockSize;

    public BlockScoredDataView(IDataView source, IBlockScoring<TBlock> scoring, int blockSize = BlockScoring.DefaultBlockSize)
    {
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(blockSize);
        this.source = source;
        this.scoring = scoring;
        this.blockSize = blockSize;
    }

    public bool CanShuffle => source.CanShuffle;

    public DataViewSchema Schema => scoring.Plan.OutputSchema;

    public long? GetRowCount() => source.GetRowCount();

    public DataViewRowCursor GetRowCursor(IEnumerable<DataViewSchema.Column> columnsNeeded, Random? rand = null)
    {
        var columns = columnsNeeded.ToList();
        scoring.Prepare();
        var upstream = source.GetRowCursor(BlockScoring.InputColumnsNeeded(scoring.Plan, columns), rand);
        return Wrap(upstream, columns);
    }

    public DataViewRowCursor[] GetRowCursorSet(IEnumerable<DataViewSchema.Column> columnsNeeded, int n, Random? rand = null)
    {
        var columns = columnsNeeded.ToList();
        scoring.Prepare();
        var upstreams = source.GetRowCursorSet(BlockScoring.InputColumnsNeeded(scoring.Plan, columns), n, rand);
        var cursors = new DataViewRowCursor[upstreams.Length];
        int made = 0;
        try
        {
            for (; made < upstreams.Length; made++)
                cursors[made] = Wrap(upstreams[made], columns);
        }
        catch
        {
            // Wrap disposed the one that failed; the others (and those not reached) would hold a splitter thread open.
            for (int i = 0; i < made; i++)
                cursors[i].Dispose();
            for (int i = made + 1; i < upstreams.Length; i++)
                upstreams[i].Dispose();
            throw;
        }
        return cursors;
    }

    /// <summary>A block cursor over <paramref name="upstream"/>; if its buffers cannot be made, the upstream cursor is disposed.</summary>
    private DataViewRowCursor Wrap(DataViewRowCursor upstream, IReadOnlyList<DataViewSchema.Column> columns)
    {
        try
        {
            return new BlockCursor(upstream, scoring, columns, blockSize);
        }
        catch
        {
            upstream.Dispose();
            throw;
        }
    }

    /// <summary>
    /// Reads up to a block of rows ahead from the upstream cursor (the scored input plus every active pass-through
    /// column), scores the block, then serves the rows one by one. Each cursor has its own buffers, so parallel
    /// cursors share nothing but the (thread-safe) ONNX Runtime sessions.
    /// </summary>
    private sealed class BlockCursor : DataViewRowCursor
    {
        private readonly DataViewRowCursor upstream;
        private readonly IBlockScoring<TBlock> scoring;
        private readonly bool[] active;
        private readonly Dictionary<int, ColumnBuffer> passThrough = new();
        private readonly ValueGetter<VBuffer<float>>? inputGetter;
        private readonly TBlock? block;
        private readonly DataViewRowId[] ids;
        private readonly long[] batches;
        private readonly ValueGetter<DataViewRowId> upstreamIds;
        private VBuffer<float> inputRow;
        private int rowsInBlock;
        private int slot = -1;
        private long position = -1;
        private bool exhausted;

        public BlockCursor(DataViewRowCursor upstream, IBlockScoring<TBlock> scoring, IReadOnlyList<DataViewSchema.Column> columnsNeeded, int blockSize)
        {
            this.upstream = upstream;
            this.scoring = scoring;
            var plan = scoring.Plan;
            active = new bool[plan.OutputSchema.Count];
            foreach (var column in columnsNeeded)
                active[column.Index] = true;

            foreach (var column in columnsNeeded.Where(c => !plan.IsOutput(c.Index)))
                passThrough[column.Index] = ColumnBuffer.Create(upstream, plan.InputSchema[column.Index], blockSize);
            block = scoring.CreateBlock(columnsNeeded, blockSize);
            if (block is not null)
                inputGetter = upstream.GetGetter<VBuffer<float>>(plan.Input);
            ids = new DataViewRowId[blockSize];
            batches = new long[blockSize];
            upstreamIds = upstream.GetIdGetter();
        }

        public override DataViewSchema Schema => scoring.Plan.OutputSchema;
        public override long Position => position;
        public override long Batch => slot >= 0 && slot < rowsInBlock ? batches[slot] : 0;

        public override bool IsColumnActive(DataViewSchema.Column column) => active[column.Index];

        public override bool MoveNext()
        {
            if (exhausted)
                return false;
            slot++;
            if (slot >= rowsInBlock)
            {
                FillBlock();
                slot = 0;
                if (rowsInBlock == 0)
                {
                    exhausted = true;
                    position = -1; // DataViewRow's contract: -1 once MoveNext has returned false
                    return false;
                }
            }
            position++;
            return true;
        }

        private void FillBlock()
        {
            int capacity = ids.Length;
            int rows = 0;
            while (rows < capacity && upstream.MoveNext())
            {
                upstreamIds(ref ids[rows]);
                batches[rows] = upstream.Batch;
                foreach (var buffer in passThrough.Values)
                    buffer.Capture(rows);
                if (block is not null)
                {
                    inputGetter!(ref inputRow);
                    InputColumn.CopyRow(inputRow, scoring.InputRow(block, rows), scoring.Plan.Input.Name, upstream.Position);
                }
                rows++;
            }
            rowsInBlock = rows;
            if (block is not null)
                scoring.Score(block, rows);
        }

        public override ValueGetter<DataViewRowId> GetIdGetter() =>
            (ref DataViewRowId value) => value = ids[CurrentSlot()];

        public override ValueGetter<TValue> GetGetter<TValue>(DataViewSchema.Column column)
        {
            if (!active[column.Index])
                throw new InvalidOperationException($"Column '{column.Name}' was not requested when this cursor was created.");
            if (!scoring.Plan.IsOutput(column.Index))
                return BlockScoring.Cast<TValue>(passThrough[column.Index].CreateGetter(CurrentSlot), column);
            return BlockScoring.Cast<TValue>(scoring.OutputGetter(block!, column, CurrentSlot), column);
        }

        private int CurrentSlot()
        {
            if (position < 0 || exhausted)
                throw new InvalidOperationException("The cursor is not on a row: call MoveNext first (and only read values while it returns true).");
            return slot;
        }

        protected override void Dispose(bool disposing)
        {
            if (disposing)
                upstream.Dispose();
            base.Dispose(disposing);
        }
    }
}
