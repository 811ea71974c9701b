using Microsoft.ML;
using Microsoft.ML.Data;

namespace MLNetVae.Scoring;

/// <summary>
/// The lazy result of <c>VaeTransformer.Transform</c>: nothing is computed until a cursor moves, and then rows are
/// scored a block at a time (one ONNX Runtime call per block) by <see cref="BlockCursor"/>.
/// </summary>
internal sealed class VaeScoredDataView : IDataView
{
    /// <summary>Rows per ONNX Runtime call: large enough to keep the GEMMs efficient, small enough for latency and memory.</summary>
    public const int DefaultBlockSize = 1024;

    private readonly IDataView source;
    private readonly VaeScoringPlan plan;
    private readonly Func<VaeOnnxScorer.Lease> scorer;
    private readonly int blockSize;

    // The scorer is leased for each block, so a transformer disposed (and revived) meanwhile, even from another
    // thread, never pulls the sessions from under a running cursor.
    public VaeScoredDataView(IDataView source, VaeScoringPlan plan, Func<VaeOnnxScorer.Lease> scorer, int blockSize = DefaultBlockSize)
    {
        this.source = source;
        this.plan = plan;
        this.scorer = scorer;
        this.blockSize = blockSize;
    }

    public bool CanShuffle => source.CanShuffle;

    public DataViewSchema Schema => plan.OutputSchema;

    public long? GetRowCount() => source.GetRowCount();

    public DataViewRowCursor GetRowCursor(IEnumerable<DataViewSchema.Column> columnsNeeded, Random? rand = null)
    {
        var columns = columnsNeeded.ToList();
        scorer().Dispose(); // create the sessions now, so that setup errors (e.g. no usable GPU) surface here
        var upstream = source.GetRowCursor(plan.InputColumnsNeeded(columns), rand);
        return new BlockCursor(upstream, plan, scorer, columns, blockSize);
    }

    public DataViewRowCursor[] GetRowCursorSet(IEnumerable<DataViewSchema.Column> columnsNeeded, int n, Random? rand = null)
    {
        var columns = columnsNeeded.ToList();
        scorer().Dispose();
        return source.GetRowCursorSet(plan.InputColumnsNeeded(columns), n, rand)
            .Select(upstream => (DataViewRowCursor)new BlockCursor(upstream, plan, scorer, columns, blockSize))
            .ToArray();
    }

    /// <summary>
    /// Reads up to a block of rows ahead from the upstream cursor (the VAE input plus every active pass-through
    /// column), scores the block in one call, then serves the rows one by one.
    /// </summary>
    private sealed class BlockCursor : DataViewRowCursor
    {
        private readonly DataViewRowCursor upstream;
        private readonly VaeScoringPlan plan;
        private readonly Func<VaeOnnxScorer.Lease> scorer;
        private readonly VaeOutputs outputs;
        private readonly bool[] active;
        private readonly Dictionary<int, ColumnBuffer> passThrough = new();
        private readonly ValueGetter<VBuffer<float>>? inputGetter;
        private readonly ScoringBlock? block;
        private readonly DataViewRowId[] ids;
        private readonly long[] batches;
        private readonly ValueGetter<DataViewRowId> upstreamIds;
        private VBuffer<float> inputRow;
        private int rowsInBlock;
        private int slot = -1;
        private long position = -1;
        private bool exhausted;

        public BlockCursor(DataViewRowCursor upstream, VaeScoringPlan plan, Func<VaeOnnxScorer.Lease> scorer,
            IReadOnlyList<DataViewSchema.Column> columnsNeeded, int blockSize)
        {
            this.upstream = upstream;
            this.plan = plan;
            this.scorer = scorer;
            outputs = plan.OutputsNeeded(columnsNeeded);
            active = new bool[plan.OutputSchema.Count];
            foreach (var column in columnsNeeded)
                active[column.Index] = true;

            foreach (var column in columnsNeeded.Where(c => !plan.IsOutput(c.Index)))
                passThrough[column.Index] = ColumnBuffer.Create(upstream, plan.InputSchema[column.Index], blockSize);
            if (outputs != VaeOutputs.None)
            {
                inputGetter = upstream.GetGetter<VBuffer<float>>(plan.Input);
                block = plan.CreateBlock(blockSize);
            }
            ids = new DataViewRowId[blockSize];
            batches = new long[blockSize];
            upstreamIds = upstream.GetIdGetter();
        }

        public override DataViewSchema Schema => plan.OutputSchema;
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
                    inputRow.CopyTo(block.InputRow(rows));
                }
                rows++;
            }
            rowsInBlock = rows;
            if (block is not null)
            {
                block.Rows = rows;
                if (rows > 0)
                {
                    using var lease = scorer();
                    lease.Scorer.Score(block, outputs);
                }
            }
        }

        public override ValueGetter<DataViewRowId> GetIdGetter() =>
            (ref DataViewRowId value) =>
            {
                EnsureOnRow();
                value = ids[slot];
            };

        public override ValueGetter<TValue> GetGetter<TValue>(DataViewSchema.Column column)
        {
            if (!active[column.Index])
                throw new InvalidOperationException($"Column '{column.Name}' was not requested when this cursor was created.");
            if (!plan.IsOutput(column.Index))
                return Cast<TValue>(passThrough[column.Index].CreateGetter(CurrentSlot), column);

            var block = this.block!;
            int latent = block.LatentDim, inputDim = block.InputDim;
            Delegate getter = plan.OutputOf(column.Index) switch
            {
                VaeOutputs.Mu => (ValueGetter<VBuffer<float>>)((ref VBuffer<float> v) => CopyRow(block.Mu, CurrentSlot() * latent, latent, ref v)),
                VaeOutputs.LogVar => (ValueGetter<VBuffer<float>>)((ref VBuffer<float> v) => CopyRow(block.LogVar, CurrentSlot() * latent, latent, ref v)),
                VaeOutputs.Reconstruction => (ValueGetter<VBuffer<float>>)((ref VBuffer<float> v) => CopyRow(block.Reconstruction, CurrentSlot() * inputDim, inputDim, ref v)),
                _ => (ValueGetter<float>)((ref float v) => v = block.Error[CurrentSlot()]),
            };
            return Cast<TValue>(getter, column);
        }

        private int CurrentSlot()
        {
            EnsureOnRow();
            return slot;
        }

        private void EnsureOnRow()
        {
            if (position < 0 || exhausted)
                throw new InvalidOperationException("The cursor is not on a row: call MoveNext first (and only read values while it returns true).");
        }

        protected override void Dispose(bool disposing)
        {
            if (disposing)
                upstream.Dispose();
            base.Dispose(disposing);
        }
    }

    internal static void CopyRow(float[] source, int offset, int length, ref VBuffer<float> destination)
    {
        var editor = VBufferEditor.Create(ref destination, length);
        source.AsSpan(offset, length).CopyTo(editor.Values);
        destination = editor.Commit();
    }

    internal static ValueGetter<TValue> Cast<TValue>(Delegate getter, DataViewSchema.Column column) =>
        getter as ValueGetter<TValue> ?? throw new InvalidOperationException(
            $"Column '{column.Name}' has type {column.Type}; it cannot be read as {typeof(TValue).Name}.");
}
