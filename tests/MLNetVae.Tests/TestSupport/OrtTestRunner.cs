using Microsoft.ML.OnnxRuntime;

namespace MLNetVae.Tests.TestSupport;

/// <summary>Runs a single-input float model in ONNX Runtime (CPU provider) through the OrtValue API.</summary>
internal static class OrtTestRunner
{
    /// <summary>
    /// Feeds <paramref name="input"/> [rows, cols] as <paramref name="inputName"/> and returns the named
    /// outputs as [rows', cols'] matrices, shaped as ONNX Runtime reports them.
    /// </summary>
    public static Dictionary<string, float[,]> Run(InferenceSession session, string inputName, float[,] input, params string[] outputNames)
    {
        var flat = new float[input.Length];
        Buffer.BlockCopy(input, 0, flat, 0, flat.Length * sizeof(float));
        using var value = OrtValue.CreateTensorValueFromMemory(flat, [input.GetLength(0), input.GetLength(1)]);
        using var runOptions = new RunOptions();
        using var outputs = session.Run(runOptions, [inputName], [value], outputNames);

        var result = new Dictionary<string, float[,]>();
        int k = 0;
        foreach (var output in outputs)
        {
            long[] shape = output.GetTensorTypeAndShape().Shape;
            if (shape.Length != 2) throw new InvalidOperationException($"Output '{outputNames[k]}' has rank {shape.Length}, expected 2.");
            var m = new float[shape[0], shape[1]];
            var data = output.GetTensorDataAsSpan<float>();
            for (int i = 0; i < shape[0]; i++)
                for (int j = 0; j < shape[1]; j++)
                    m[i, j] = data[(int)(i * shape[1] + j)];
            result[outputNames[k++]] = m;
        }
        return result;
    }

    public static float[] Row(float[,] m, int row)
    {
        var r = new float[m.GetLength(1)];
        for (int j = 0; j < r.Length; j++) r[j] = m[row, j];
        return r;
    }
}
