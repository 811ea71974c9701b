using System.Buffers.Binary;
using System.Runtime.InteropServices;
using Google.Protobuf;
using Onnx;

namespace MLNetVae.Onnx;

/// <summary>
/// A deliberately small helper for assembling a <see cref="GraphProto"/> out of OnnxSharp's typed
/// protobuf classes. It only knows what the VAE graphs need: float <c>[batch, width]</c> inputs and
/// outputs, float and int64 initializers, and nodes with int attributes. Node names are generated
/// from a caller-given prefix so every node is named (ONNX Runtime's error messages quote them).
/// </summary>
internal sealed class OnnxGraphBuilder
{
    private static readonly int FloatType = (int)TensorProto.Types.DataType.Float;
    private static readonly int Int64Type = (int)TensorProto.Types.DataType.Int64;

    /// <summary>ONNX Runtime's contrib operator domain (the quantized MatMul kernels live there).</summary>
    public const string MicrosoftDomain = "com.microsoft";

    public OnnxGraphBuilder(string name, string docString)
    {
        Graph = new GraphProto { Name = name, DocString = docString };
    }

    public GraphProto Graph { get; }

    /// <summary>Declares a graph input of type float <c>[batch, width]</c>.</summary>
    public void AddInput(string name, int width) => Graph.Input.Add(BatchMatrix(name, width));

    /// <summary>Declares a graph output of type float <c>[batch, width]</c>.</summary>
    public void AddOutput(string name, int width) => Graph.Output.Add(BatchMatrix(name, width));

    /// <summary>Declares a graph output of type float <c>[batch]</c>: one value per row.</summary>
    public void AddBatchOutput(string name)
    {
        var shape = new TensorShapeProto();
        shape.Dim.Add(new TensorShapeProto.Types.Dimension { DimParam = VaeOnnxNames.BatchDimension });
        Graph.Output.Add(new ValueInfoProto
        {
            Name = name,
            Type = new TypeProto { TensorType = new TypeProto.Types.Tensor { ElemType = FloatType, Shape = shape } },
        });
    }

    /// <summary>Declares a rank-1 float input <c>[width]</c> (one row per call, as ML.NET's ONNX transformer feeds it).</summary>
    public void AddVectorInput(string name, int width) => Graph.Input.Add(Vector(name, width));

    /// <summary>Declares a rank-1 float output <c>[width]</c>; ML.NET maps it to <c>Vector&lt;Single, width&gt;</c>.</summary>
    public void AddVectorOutput(string name, int width) => Graph.Output.Add(Vector(name, width));

    /// <summary>
    /// Adds a float initializer stored as <c>raw_data</c> (little-endian IEEE 754): one contiguous
    /// byte blob is both smaller and much faster to write and parse than a repeated float field.
    /// Initializers are not listed as graph inputs (IR ≥ 4), so runtimes treat them as constants.
    /// </summary>
    public string AddFloatInitializer(string name, ReadOnlySpan<float> values, params long[] dims)
    {
        CheckElementCount(name, values.Length, dims);
        var bytes = new byte[values.Length * sizeof(float)];
        if (BitConverter.IsLittleEndian)
        {
            MemoryMarshal.AsBytes(values).CopyTo(bytes);
        }
        else
        {
            for (int i = 0; i < values.Length; i++)
                BinaryPrimitives.WriteSingleLittleEndian(bytes.AsSpan(i * sizeof(float)), values[i]);
        }
        var tensor = new TensorProto
        {
            Name = name,
            DataType = FloatType,
            // The array is ours and never written again, so wrapping it instead of copying is safe.
            RawData = UnsafeByteOperations.UnsafeWrap(bytes),
        };
        tensor.Dims.AddRange(dims);
        Graph.Initializer.Add(tensor);
        return name;
    }

    /// <summary>Adds an int8 initializer stored as <c>raw_data</c> (quantized weights).</summary>
    public string AddInt8Initializer(string name, ReadOnlySpan<sbyte> values, params long[] dims) =>
        AddByteInitializer(name, MemoryMarshal.AsBytes(values), TensorProto.Types.DataType.Int8, dims);

    /// <summary>Adds a uint8 initializer (quantization zero points).</summary>
    public string AddUInt8Initializer(string name, ReadOnlySpan<byte> values, params long[] dims) =>
        AddByteInitializer(name, values, TensorProto.Types.DataType.Uint8, dims);

    private string AddByteInitializer(string name, ReadOnlySpan<byte> values, TensorProto.Types.DataType type, long[] dims)
    {
        CheckElementCount(name, values.Length, dims);
        var tensor = new TensorProto { Name = name, DataType = (int)type, RawData = ByteString.CopyFrom(values) };
        tensor.Dims.AddRange(dims);
        Graph.Initializer.Add(tensor);
        return name;
    }

    /// <summary>Adds a node of ONNX Runtime's contrib domain with one output, and returns that output's name.</summary>
    public string AddMicrosoftNode(string opType, string nodeName, string[] inputs, string output, params AttributeProto[] attributes)
    {
        AddNode(opType, nodeName, inputs, [output], attributes);
        Graph.Node[^1].Domain = MicrosoftDomain;
        return output;
    }

    /// <summary>Adds a small int64 initializer (shape-like operands such as Split's sizes).</summary>
    public string AddInt64Initializer(string name, long[] values, params long[] dims)
    {
        CheckElementCount(name, values.Length, dims);
        var tensor = new TensorProto { Name = name, DataType = Int64Type };
        tensor.Dims.AddRange(dims);
        tensor.Int64Data.AddRange(values);
        Graph.Initializer.Add(tensor);
        return name;
    }

    /// <summary>Adds a node in the default (ai.onnx) domain with one output, and returns that output's name.</summary>
    public string AddNode(string opType, string nodeName, string[] inputs, string output, params AttributeProto[] attributes)
    {
        AddNode(opType, nodeName, inputs, [output], attributes);
        return output;
    }

    /// <summary>Adds a node in the default (ai.onnx) domain.</summary>
    public void AddNode(string opType, string nodeName, string[] inputs, string[] outputs, params AttributeProto[] attributes)
    {
        var node = new NodeProto { OpType = opType, Name = nodeName };
        node.Input.AddRange(inputs);
        node.Output.AddRange(outputs);
        node.Attribute.AddRange(attributes);
        Graph.Node.Add(node);
    }

    public static AttributeProto IntAttribute(string name, long value) =>
        new() { Name = name, Type = AttributeProto.Types.AttributeType.Int, I = value };

    public static AttributeProto IntsAttribute(string name, params long[] values)
    {
        var attribute = new AttributeProto { Name = name, Type = AttributeProto.Types.AttributeType.Ints };
        attribute.Ints.AddRange(values);
        return attribute;
    }

    private static ValueInfoProto Vector(string name, int width)
    {
        var shape = new TensorShapeProto();
        shape.Dim.Add(new TensorShapeProto.Types.Dimension { DimValue = width });
        return new ValueInfoProto
        {
            Name = name,
            Type = new TypeProto { TensorType = new TypeProto.Types.Tensor { ElemType = FloatType, Shape = shape } },
        };
    }

    private static ValueInfoProto BatchMatrix(string name, int width)
    {
        var shape = new TensorShapeProto();
        // Symbolic first dimension: any number of rows per call.
        shape.Dim.Add(new TensorShapeProto.Types.Dimension { DimParam = VaeOnnxNames.BatchDimension });
        shape.Dim.Add(new TensorShapeProto.Types.Dimension { DimValue = width });
        return new ValueInfoProto
        {
            Name = name,
            Type = new TypeProto { TensorType = new TypeProto.Types.Tensor { ElemType = FloatType, Shape = shape } },
        };
    }

    private static void CheckElementCount(string name, int count, long[] dims)
    {
        long expected = 1;
        foreach (long d in dims) expected *= d;
        if (expected != count)
            throw new ArgumentException($"Initializer '{name}' has {count} values but its shape [{string.Join(", ", dims)}] needs {expected}.");
    }
}
