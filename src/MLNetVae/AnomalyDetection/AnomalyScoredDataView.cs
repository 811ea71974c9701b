using Microsoft.ML;
using Microsoft.ML.Data;
using MLNetVae.Scoring;

namespace MLNetVae.AnomalyDetection;

/// <summary>
/// The lazy result of <c>VaeAnomalyTransformer.Transform</c>: the same block design as <see cref="VaeScoredDataView"/>
/// — a cursor reads up to a block of rows ahead, scores them with one encoder call and the decoder calls the score
/// needs, then serves them — with the anomaly columns instead of the VAE's.
/// </summary>
internal sealed class AnomalyScoredDataView : IDataView
{
    private readonly IDataView source;
    private readonly AnomalyScoringPlan plan;
    private readonly Func<AnomalyBlockScorer> scorer;
    private readonly int blockSize;

    public AnomalyScoredDataView(IDataView source, AnomalyScoringPlan plan, Func<AnomalyBlockScorer> scorer,
        int blockSize = VaeScoredDataView.DefaultBlockSize)
    {
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(blockSize);
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
        var upstream = source.GetRowCursor(plan.InputColumnsNeeded(columns), rand);
        return new BlockCursor(upstream, plan, scorer(), columns, blockSize);
    }

    public DataViewRowCursor[] GetRowCursorSet(IEnumerable<DataViewSchema.Column> columnsNeeded, int n, Random? rand = null)
    {
        var columns = columnsNeeded.ToList();
        var shared = scorer();
        return source.GetRowCursorSet(plan.InputColumnsNeeded(columns), n, rand)
            .Select(upstream => (DataViewRowCursor)new BlockCursor(upstream, plan, shared, columns, blockSize))
            .ToArray();
    }

    /// <summary>Getters of the added columns for the row in a block's slot <paramref name="slot"/>.</summary>
    internal static Delegate OutputGetter(AnomalyOutputs output, AnomalyBlock block, float threshold, Func<int> slot) =>
        output switch
        {
            AnomalyOutputs.Score => (ValueGetter<float>)((ref float v) => v = block.Score[slot()]),
            AnomalyOutputs.PredictedLabel => (ValueGetter<bool>)((ref bool v) => v = block.Score[slot()] > threshold),
            _ => (ValueGetter<VBuffer<float>>)((ref VBuffer<float> v) =>
            {
                int row = slot();
                var editor = VBufferEditor.Create(ref v, block.Vae.InputDim);
                block.PerFeatureError(row, editor.Values);
                v = editor.Commit();
            }),
        };

    private sealed class BlockCursor : DataViewRowCursor
    {
        private readonly DataViewRowCursor upstream;
        private readonly AnomalyScoringPlan plan;
        private readonly AnomalyBlockScorer scorer;
        private readonly AnomalyOutputs outputs;
        private readonly bool[] active;
        private readonly Dictionary<int, ColumnBuffer> passThrough = new();
        private readonly ValueGetter<VBuffer<float>>? inputGetter;
        private readonly AnomalyBlock? block;
        private readonly DataViewRowId[] ids;
        private readonly long[] batches;
        private readonly ValueGetter<DataViewRowId> upstreamIds;
        private VBuffer<float> inputRow;
        private int rowsInBlock;
        private int slot = -1;
        private long position = -1;
        private bool exhausted;

        public BlockCursor(DataViewRowCursor upstream, AnomalyScoringPlan plan, AnomalyBlockScorer scorer,
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
            if (outputs != AnomalyOutputs.None)
            {
                inputGetter = upstream.GetGetter<VBuffer<float>>(plan.Input);
                block = scorer.CreateBlock(blockSize);
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
                    inputRow.CopyTo(block.Vae.InputRow(rows));
                }
                rows++;
            }
            rowsInBlock = rows;
            if (block is not null)
            {
                block.Vae.Rows = rows;
                scorer.Score(block, outputs);
            }
        }

        public override ValueGetter<DataViewRowId> GetIdGetter() =>
            (ref DataViewRowId value) => value = ids[CurrentSlot()];

        public override ValueGetter<TValue> GetGetter<TValue>(DataViewSchema.Column column)
        {
            if (!active[column.Index])
                throw new InvalidOperationException($"Column '{column.Name}' was not requested when this cursor was created.");
            if (!plan.IsOutput(column.Index))
                return VaeScoredDataView.Cast<TValue>(passThrough[column.Index].CreateGetter(CurrentSlot), column);
            return VaeScoredDataView.Cast<TValue>(
                OutputGetter(plan.OutputOf(column.Index), block!, scorer.Scoring.Threshold, CurrentSlot), column);
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

/// <summary>Row-at-a-time mapping for <c>PredictionEngine</c>: the row is scored (a block of one) on first access per position.</summary>
internal sealed class AnomalyRowMapper : IRowToRowMapper
{
    private readonly AnomalyScoringPlan plan;
    private readonly AnomalyBlockScorer scorer;

    public AnomalyRowMapper(AnomalyScoringPlan plan, AnomalyBlockScorer scorer)
    {
        this.plan = plan;
        this.scorer = scorer;
    }

    public DataViewSchema InputSchema => plan.InputSchema;

    public DataViewSchema OutputSchema => plan.OutputSchema;

    public IEnumerable<DataViewSchema.Column> GetDependencies(IEnumerable<DataViewSchema.Column> dependingColumns) =>
        plan.InputColumnsNeeded(dependingColumns);

    public DataViewRow GetRow(DataViewRow input, IEnumerable<DataViewSchema.Column> activeColumns) =>
        new MappedRow(input, plan, scorer, activeColumns.ToList());

    private sealed class MappedRow : DataViewRow
    {
        private readonly DataViewRow input;
        private readonly AnomalyScoringPlan plan;
        private readonly AnomalyBlockScorer scorer;
        private readonly bool[] active;
        private readonly AnomalyOutputs outputs;
        private readonly AnomalyBlock? block;
        private readonly ValueGetter<VBuffer<float>>? inputGetter;
        private VBuffer<float> inputRow;
        private long scoredPosition = -1;

        public MappedRow(DataViewRow input, AnomalyScoringPlan plan, AnomalyBlockScorer scorer, IReadOnlyList<DataViewSchema.Column> activeColumns)
        {
            this.input = input;
            this.plan = plan;
            this.scorer = scorer;
            active = new bool[plan.OutputSchema.Count];
            foreach (var column in activeColumns)
                active[column.Index] = true;
            outputs = plan.OutputsNeeded(activeColumns);
            if (outputs != AnomalyOutputs.None)
            {
                block = scorer.CreateBlock(1);
                inputGetter = input.GetGetter<VBuffer<float>>(plan.Input);
            }
        }

        public override DataViewSchema Schema => plan.OutputSchema;
        public override long Position => input.Position;
        public override long Batch => input.Batch;
        public override ValueGetter<DataViewRowId> GetIdGetter() => input.GetIdGetter();
        public override bool IsColumnActive(DataViewSchema.Column column) => active[column.Index];

        public override ValueGetter<TValue> GetGetter<TValue>(DataViewSchema.Column column)
        {
            if (!active[column.Index])
                throw new InvalidOperationException($"Column '{column.Name}' was not requested when this row was created.");
            if (!plan.IsOutput(column.Index))
                return input.GetGetter<TValue>(plan.InputSchema[column.Index]);
            return VaeScoredDataView.Cast<TValue>(
                AnomalyScoredDataView.OutputGetter(plan.OutputOf(column.Index), block!, scorer.Scoring.Threshold, EnsureScored), column);
        }

        // PredictionEngine reuses one row object and moves its input; score once per input position.
        private int EnsureScored()
        {
            if (scoredPosition != input.Position || input.Position < 0)
            {
                inputGetter!(ref inputRow);
                inputRow.CopyTo(block!.Vae.InputRow(0));
                block.Vae.Rows = 1;
                scorer.Score(block, outputs);
                scoredPosition = input.Position;
            }
            return 0;
        }
    }
}
