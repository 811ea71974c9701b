using Microsoft.ML;
using Microsoft.ML.Data;

namespace MLNetVae.Scoring;

/// <summary>
/// How a transformer maps one input schema: the input column it scores, the output schema (the input's columns
/// first, unchanged, then the added ones) and which columns are added.
/// </summary>
internal interface IScoringPlan
{
    DataViewSchema InputSchema { get; }
    DataViewSchema OutputSchema { get; }

    /// <summary>The vector column every scored row is read from.</summary>
    DataViewSchema.Column Input { get; }

    /// <summary>Whether column <paramref name="index"/> of <see cref="OutputSchema"/> is an added column.</summary>
    bool IsOutput(int index);
}

/// <summary>
/// One kind of block scoring (the VAE's four columns, or the anomaly detector's): how to make the buffers for a
/// set of requested columns, score a filled block, and read an added column of a scored row.
/// <see cref="BlockScoredDataView{TBlock}"/> and <see cref="BlockRowMapper{TBlock}"/> own everything else.
/// </summary>
/// <typeparam name="TBlock">Buffers for a block of rows plus what to compute for them; one per cursor or row.</typeparam>
internal interface IBlockScoring<TBlock> where TBlock : class
{
    IScoringPlan Plan { get; }

    /// <summary>Creates the ONNX Runtime sessions now, so setup errors (e.g. no usable GPU) surface when a cursor or engine is made.</summary>
    void Prepare();

    /// <summary>Buffers for up to <paramref name="capacity"/> rows, or null when no added column is requested (nothing to score).</summary>
    TBlock? CreateBlock(IReadOnlyList<DataViewSchema.Column> activeColumns, int capacity);

    /// <summary>Where row <paramref name="row"/> of the block's input goes.</summary>
    Span<float> InputRow(TBlock block, int row);

    /// <summary>Scores the block's first <paramref name="rows"/> rows (none: nothing to do).</summary>
    void Score(TBlock block, int rows);

    /// <summary>A getter of added column <paramref name="column"/> for the row in the slot that <paramref name="slot"/> returns.</summary>
    Delegate OutputGetter(TBlock block, DataViewSchema.Column column, Func<int> slot);
}

/// <summary>Shared pieces of block scoring.</summary>
internal static class BlockScoring
{
    /// <summary>Rows per ONNX Runtime call: large enough to keep the GEMMs efficient, small enough for latency and memory.</summary>
    public const int DefaultBlockSize = 1024;

    /// <summary>Most values of one row-wide buffer of a block (input, reconstruction): 16 MB of float32.</summary>
    public const int MaxBlockValues = 4 << 20;

    /// <summary>
    /// Rows per block for rows of <paramref name="inputDim"/> values: <see cref="DefaultBlockSize"/>, fewer for inputs
    /// wider than 4,096 features, so that each cursor's buffers stay near 16 MB apiece (a cursor set makes several).
    /// </summary>
    public static int BlockRowsFor(int inputDim) => Math.Clamp(MaxBlockValues / Math.Max(1, inputDim), 1, DefaultBlockSize);

    /// <summary>
    /// Input columns a consumer of <paramref name="columns"/> needs: the pass-through ones, plus the scored input
    /// column when any added column is requested.
    /// </summary>
    public static IEnumerable<DataViewSchema.Column> InputColumnsNeeded(IScoringPlan plan, IEnumerable<DataViewSchema.Column> columns)
    {
        var list = columns.ToList();
        var needed = list.Where(c => !plan.IsOutput(c.Index)).Select(c => plan.InputSchema[c.Index]).ToList();
        if (list.Any(c => plan.IsOutput(c.Index)) && needed.All(c => c.Index != plan.Input.Index))
            needed.Add(plan.Input);
        return needed;
    }

    public static void CopyRow(float[] source, int offset, int length, ref VBuffer<float> destination)
    {
        var editor = VBufferEditor.Create(ref destination, length);
        source.AsSpan(offset, length).CopyTo(editor.Values);
        destination = editor.Commit();
    }

    public static ValueGetter<TValue> Cast<TValue>(Delegate getter, DataViewSchema.Column column) =>
        getter as ValueGetter<TValue> ?? throw new InvalidOperationException(
            $"Column '{column.Name}' has type {column.Type}; it cannot be read as {typeof(TValue).Name}.");
}
