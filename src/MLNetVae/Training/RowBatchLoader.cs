using System.Runtime.InteropServices;
using MLNetVae.Data;
using TorchSharp;
using static TorchSharp.torch;

namespace MLNetVae.Training;

/// <summary>
/// Copies chosen rows of a <see cref="FeatureMatrix"/> (or rows the streaming path gathered) into one reusable host
/// tensor and hands them to the device.
/// </summary>
/// <remarks>
/// Why not one tensor of all training rows (and <c>index_select</c> per batch)? It would be a second full copy of the
/// data next to the matrix (a third while it is built from a gathered array): 1 M rows of 768 features cost 3 GiB
/// each. Gathering a batch costs one copy of the batch, which <c>index_select</c> pays anyway, so training memory is
/// one copy of the data plus this bounded buffer. On CUDA the batch is moved to the device per step, as a
/// DataLoader does.
/// </remarks>
internal sealed class RowBatchLoader : IDisposable
{
    private readonly Tensor host;
    private readonly Device device;
    private readonly int columns;
    private readonly int capacity;

    public RowBatchLoader(int capacity, int columns, Device device)
    {
        this.capacity = capacity;
        this.columns = columns;
        this.device = device;
        host = empty(new long[] { capacity, columns }, ScalarType.Float32, CPU);
    }

    /// <summary>
    /// The first <paramref name="count"/> of <paramref name="rows"/> of <paramref name="data"/>, in that order, as a
    /// [count, columns] tensor on the device. On the CPU it is a view of the reused buffer, valid until the next call
    /// (disposing the view is harmless).
    /// </summary>
    public Tensor Load(FeatureMatrix data, int[] rows, int count) =>
        Fill(count, (data, rows), static (source, firstRow, columns, target) =>
        {
            for (int i = 0; i < target.Length / columns; i++)
                source.data.Row(source.rows[firstRow + i]).CopyTo(target.Slice(i * columns, columns));
        });

    /// <summary>
    /// <paramref name="count"/> rows already gathered row after row in <paramref name="values"/> (the streaming path's
    /// batches), as a [count, columns] tensor on the device; on the CPU a view of the reused buffer, as above.
    /// </summary>
    public Tensor Load(float[] values, int count) =>
        Fill(count, values, static (source, firstRow, columns, target) => source.AsSpan(firstRow * columns, target.Length).CopyTo(target));

    /// <summary>Writes rows <c>firstRow …</c> into <c>target</c> (whole rows of <c>columns</c> values).</summary>
    private delegate void SliceFiller<in TSource>(TSource source, int firstRow, int columns, Span<float> target);

    private Tensor Fill<TSource>(int count, TSource source, SliceFiller<TSource> fill)
    {
        if (count > capacity)
            throw new ArgumentOutOfRangeException(nameof(count), $"{count} rows exceed the loader's capacity of {capacity}.");
        var view = host.narrow(0, 0, count);
        // Tensor.bytes spans at most int.MaxValue bytes: fill in slices of whole rows below that.
        int rowsPerSlice = Math.Max(1, int.MaxValue / (columns * sizeof(float)));
        for (int start = 0; start < count; start += rowsPerSlice)
        {
            int rows = Math.Min(rowsPerSlice, count - start);
            using var slice = view.narrow(0, start, rows);
            fill(source, start, columns, MemoryMarshal.Cast<byte, float>(slice.bytes));
        }
        return OnDevice(view);
    }

    private Tensor OnDevice(Tensor view)
    {
        if (device.type == DeviceType.CPU)
            return view;
        using (view)
            return view.to(device);
    }

    public void Dispose() => host.Dispose();
}
