using Microsoft.ML;
using Microsoft.ML.Data;

namespace MLNetVae.Scoring;

/// <summary>
/// Row-at-a-time mapping for <c>PredictionEngine</c> and transformer chains: each output is computed for the input
/// row's current position on first access, with one block of one row reused for every call.
/// </summary>
internal sealed class VaeRowMapper : IRowToRowMapper
{
    private readonly VaeScoringPlan plan;
    private readonly Func<VaeOnnxScorer.Lease> scorer;

    public VaeRowMapper(VaeScoringPlan plan, Func<VaeOnnxScorer.Lease> scorer)
    {
        this.plan = plan;
        this.scorer = scorer;
        scorer().Dispose(); // create the sessions now, so that setup errors surface when the engine is created
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
        private readonly VaeScoringPlan plan;
        private readonly Func<VaeOnnxScorer.Lease> scorer;
        private readonly bool[] active;
        private readonly VaeOutputs outputs;
        private readonly ScoringBlock? block;
        private readonly ValueGetter<VBuffer<float>>? inputGetter;
        private VBuffer<float> inputRow;
        private long scoredPosition = -1;

        public MappedRow(DataViewRow input, VaeScoringPlan plan, Func<VaeOnnxScorer.Lease> scorer, IReadOnlyList<DataViewSchema.Column> activeColumns)
        {
            this.input = input;
            this.plan = plan;
            this.scorer = scorer;
            active = new bool[plan.OutputSchema.Count];
            foreach (var column in activeColumns)
                active[column.Index] = true;
            outputs = plan.OutputsNeeded(activeColumns);
            if (outputs != VaeOutputs.None)
            {
                block = plan.CreateBlock(1);
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

            var block = this.block!;
            Delegate getter = plan.OutputOf(column.Index) switch
            {
                VaeOutputs.Mu => (ValueGetter<VBuffer<float>>)((ref VBuffer<float> v) => { EnsureScored(); VaeScoredDataView.CopyRow(block.Mu, 0, block.LatentDim, ref v); }),
                VaeOutputs.LogVar => (ValueGetter<VBuffer<float>>)((ref VBuffer<float> v) => { EnsureScored(); VaeScoredDataView.CopyRow(block.LogVar, 0, block.LatentDim, ref v); }),
                VaeOutputs.Reconstruction => (ValueGetter<VBuffer<float>>)((ref VBuffer<float> v) => { EnsureScored(); VaeScoredDataView.CopyRow(block.Reconstruction, 0, block.InputDim, ref v); }),
                _ => (ValueGetter<float>)((ref float v) => { EnsureScored(); v = block.Error[0]; }),
            };
            return VaeScoredDataView.Cast<TValue>(getter, column);
        }

        // PredictionEngine reuses one row object and moves its input; score once per input position.
        private void EnsureScored()
        {
            if (scoredPosition == input.Position && input.Position >= 0)
                return;
            inputGetter!(ref inputRow);
            inputRow.CopyTo(block!.InputRow(0));
            block.Rows = 1;
            using (var lease = scorer())
                lease.Scorer.Score(block, outputs);
            scoredPosition = input.Position;
        }
    }
}
