using Microsoft.ML;
using Microsoft.ML.Data;
using MLNetVae.Data;

namespace MLNetVae.Scoring;

/// <summary>
/// Row-at-a-time mapping for <c>PredictionEngine</c> and transformer chains: the added columns are computed for the
/// input row's current position on first access, with one block of one row reused for every call.
/// </summary>
internal sealed class BlockRowMapper<TBlock> : IRowToRowMapper where TBlock : class
{
    private readonly IBlockScoring<TBlock> scoring;

    public BlockRowMapper(IBlockScoring<TBlock> scoring)
    {
        this.scoring = scoring;
        scoring.Prepare(); // setup errors surface when the engine is created, not on its first Predict
    }

    public DataViewSchema InputSchema => scoring.Plan.InputSchema;

    public DataViewSchema OutputSchema => scoring.Plan.OutputSchema;

    public IEnumerable<DataViewSchema.Column> GetDependencies(IEnumerable<DataViewSchema.Column> dependingColumns) =>
        BlockScoring.InputColumnsNeeded(scoring.Plan, dependingColumns);

    public DataViewRow GetRow(DataViewRow input, IEnumerable<DataViewSchema.Column> activeColumns) =>
        new MappedRow(input, scoring, activeColumns.ToList());

    private sealed class MappedRow : DataViewRow
    {
        private readonly DataViewRow input;
        private readonly IBlockScoring<TBlock> scoring;
        private readonly bool[] active;
        private readonly TBlock? block;
        private readonly ValueGetter<VBuffer<float>>? inputGetter;
        private VBuffer<float> inputRow;
        private long scoredPosition = -1;

        public MappedRow(DataViewRow input, IBlockScoring<TBlock> scoring, IReadOnlyList<DataViewSchema.Column> activeColumns)
        {
            this.input = input;
            this.scoring = scoring;
            active = new bool[scoring.Plan.OutputSchema.Count];
            foreach (var column in activeColumns)
                active[column.Index] = true;
            block = scoring.CreateBlock(activeColumns, 1);
            if (block is not null)
                inputGetter = input.GetGetter<VBuffer<float>>(scoring.Plan.Input);
        }

        public override DataViewSchema Schema => scoring.Plan.OutputSchema;
        public override long Position => input.Position;
        public override long Batch => input.Batch;
        public override ValueGetter<DataViewRowId> GetIdGetter() => input.GetIdGetter();
        public override bool IsColumnActive(DataViewSchema.Column column) => active[column.Index];

        public override ValueGetter<TValue> GetGetter<TValue>(DataViewSchema.Column column)
        {
            if (!active[column.Index])
                throw new InvalidOperationException($"Column '{column.Name}' was not requested when this row was created.");
            if (!scoring.Plan.IsOutput(column.Index))
                return input.GetGetter<TValue>(scoring.Plan.InputSchema[column.Index]);
            return BlockScoring.Cast<TValue>(scoring.OutputGetter(block!, column, EnsureScored), column);
        }

        // PredictionEngine reuses one row object and moves its input; score once per input position.
        private int EnsureScored()
        {
            if (scoredPosition != input.Position || input.Position < 0)
            {
                inputGetter!(ref inputRow);
                InputColumn.CopyRow(inputRow, scoring.InputRow(block!, 0), scoring.Plan.Input.Name, input.Position);
                scoring.Score(block!, 1);
                scoredPosition = input.Position;
            }
            return 0;
        }
    }
}
