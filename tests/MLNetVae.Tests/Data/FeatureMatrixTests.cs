using Microsoft.ML;
using MLNetVae.Data;
using MLNetVae.Tests.TestSupport;

namespace MLNetVae.Tests.Data;

/// <summary>
/// The chunked in-memory copy of the training column: rows read back exactly across chunk boundaries, whatever
/// the source says about its row count, with non-finite rows skipped at any position.
/// </summary>
public class FeatureMatrixTests
{
    private const int Width = 7;

    private static float[][] Rows(int count, int seed)
    {
        var random = new Random(seed);
        return Enumerable.Range(0, count).Select(_ => Enumerable.Range(0, Width).Select(_ => (float)random.NextDouble()).ToArray()).ToArray();
    }

    [Theory]
    [InlineData(null)]      // the source's own count (LoadFromEnumerable)
    [InlineData(0L)]        // a source that under-reports: the chunks must grow
    [InlineData(1000L)]     // one that over-reports
    public void EveryRowReadsBackExactlyAcrossChunkBoundaries(long? reportedRows)
    {
        var ml = new MLContext(seed: 1);
        var rows = Rows(103, seed: 3);
        IDataView source = TestData.FromArrays(ml, rows);
        if (reportedRows is { } count)
            source = new RowCountOverride(source, count);

        // 50 values per chunk: 7 rows of 7 features, so 103 rows span 15 chunks.
        var matrix = FeatureMatrix.Read(source, "Features", chunkValues: 50);

        Assert.Equal(103, matrix.Rows);
        Assert.Equal(Width, matrix.Columns);
        Assert.Equal(103L * Width * sizeof(float), matrix.Bytes);
        for (int r = 0; r < rows.Length; r++)
            Assert.Equal(rows[r], matrix.Row(r).ToArray());
    }

    [Fact]
    public void ASourceOfUnknownLengthStartsSmallAndAKnownOneGetsExactlyItsSize()
    {
        var ml = new MLContext(seed: 1);
        var rows = Rows(3000, seed: 4);
        const int chunkValues = Width * 5000; // 5,000 rows per chunk: all 3,000 rows fit in the first

        var unknown = FeatureMatrix.Read(new RowCountOverride(TestData.FromArrays(ml, rows), null), "Features", chunkValues: chunkValues);
        var known = FeatureMatrix.Read(new RowCountOverride(TestData.FromArrays(ml, rows), 3000), "Features", chunkValues: chunkValues);

        // Unknown: 1,024 rows, doubled to 2,048 and 4,096, never a full 5,000-row chunk up front.
        Assert.Equal(4096L * Width, unknown.AllocatedValues);
        Assert.Equal(3000L * Width, known.AllocatedValues);
        for (int r = 0; r < rows.Length; r += 97)
        {
            Assert.Equal(rows[r], unknown.Row(r).ToArray());
            Assert.Equal(rows[r], known.Row(r).ToArray());
        }
    }

    [Fact]
    public void SkippedNonFiniteRowsLeaveNoGapAtChunkBoundaries()
    {
        var ml = new MLContext(seed: 1);
        var rows = Rows(40, seed: 5);
        // Rows 6 and 7 straddle the first chunk boundary (7 rows per chunk), 13 ends the second chunk, 39 is the last row.
        int[] bad = [6, 7, 13, 20, 39];
        foreach (int b in bad)
            rows[b][b % Width] = b % 2 == 0 ? float.NaN : float.PositiveInfinity;

        var matrix = FeatureMatrix.Read(TestData.FromArrays(ml, rows), "Features", skipNonFinite: true, chunkValues: 50);

        var kept = Enumerable.Range(0, rows.Length).Where(r => !bad.Contains(r)).ToArray();
        Assert.Equal(bad.Select(b => (long)b), matrix.SkippedRows);
        Assert.Equal(kept.Length, matrix.Rows);
        for (int i = 0; i < kept.Length; i++)
            Assert.Equal(rows[kept[i]], matrix.Row(i).ToArray());
    }
}
