using System.Reflection;
using Microsoft.ML;
using Microsoft.ML.Data;

namespace MLNetVae.Scoring;

/// <summary>
/// Holds one upstream column's values for every row of a block, so a cursor can read a block of rows ahead
/// (for one batched ONNX call) and still serve each row's pass-through values when it gets to it.
/// </summary>
internal abstract class ColumnBuffer
{
    /// <summary>Reads the upstream cursor's current value into <paramref name="slot"/>.</summary>
    public abstract void Capture(int slot);

    /// <summary>A getter for the value in the slot that <paramref name="currentSlot"/> points at.</summary>
    public abstract Delegate CreateGetter(Func<int> currentSlot);

    public static ColumnBuffer Create(DataViewRow upstream, DataViewSchema.Column column, int capacity)
    {
        var rawType = column.Type.RawType;
        var method = typeof(ColumnBuffer).GetMethod(
            rawType.IsGenericType && rawType.GetGenericTypeDefinition() == typeof(VBuffer<>) ? nameof(CreateVector) : nameof(CreateScalar),
            BindingFlags.NonPublic | BindingFlags.Static)!;
        var itemType = rawType.IsGenericType && rawType.GetGenericTypeDefinition() == typeof(VBuffer<>) ? rawType.GetGenericArguments()[0] : rawType;
        return (ColumnBuffer)method.MakeGenericMethod(itemType).Invoke(null, new object[] { upstream, column, capacity })!;
    }

    private static ColumnBuffer CreateScalar<T>(DataViewRow upstream, DataViewSchema.Column column, int capacity) =>
        new Buffer<T>(upstream.GetGetter<T>(column), capacity, static (in T source, ref T destination) => destination = source);

    // Vectors are deep-copied out: the consumer owns its VBuffer, and the slot's arrays are reused for the next block.
    private static ColumnBuffer CreateVector<T>(DataViewRow upstream, DataViewSchema.Column column, int capacity) =>
        new Buffer<VBuffer<T>>(upstream.GetGetter<VBuffer<T>>(column), capacity,
            static (in VBuffer<T> source, ref VBuffer<T> destination) => source.CopyTo(ref destination));

    private delegate void Copy<T>(in T source, ref T destination);

    private sealed class Buffer<T> : ColumnBuffer
    {
        private readonly ValueGetter<T> upstream;
        private readonly T[] values;
        private readonly Copy<T> copy;

        public Buffer(ValueGetter<T> upstream, int capacity, Copy<T> copy)
        {
            this.upstream = upstream;
            values = new T[capacity];
            this.copy = copy;
        }

        public override void Capture(int slot) => upstream(ref values[slot]);

        public override Delegate CreateGetter(Func<int> currentSlot) =>
            (ValueGetter<T>)((ref T value) => copy(in values[currentSlot()], ref value));
    }
}
