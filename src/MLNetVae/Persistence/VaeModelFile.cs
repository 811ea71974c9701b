using System.IO.Compression;
using Google.Protobuf;
using Onnx;

namespace MLNetVae.Persistence;

/// <summary>
/// Finds the VAEs in a saved ML.NET model zip. ML.NET's ONNX transformer stores each model's bytes in an entry named
/// <c>OnnxModel</c> (a 32-bit length, then the bytes); the VAEs are the ones whose metadata says MLNetVae row graph.
/// Entries are visited in path order, which is the order of the transformers in the (nested) chain.
/// </summary>
internal static class VaeModelFile
{
    public static IReadOnlyList<VaeModelFormat.Restored> ReadVaes(string path) => Read<VaeModelFormat.Restored>(path, VaeModelFormat.TryRestore);

    /// <summary>The anomaly detectors saved in <paramref name="path"/>, in pipeline order.</summary>
    public static IReadOnlyList<AnomalyModelFormat.Restored> ReadAnomalyDetectors(string path) =>
        Read<AnomalyModelFormat.Restored>(path, AnomalyModelFormat.TryRestore);

    private delegate bool TryRestore<T>(ModelProto model, out T? restored);

    private static IReadOnlyList<T> Read<T>(string path, TryRestore<T> tryRestore) where T : class
    {
        if (!File.Exists(path))
            throw new VaeModelFileException(path, "the file does not exist.", new FileNotFoundException(null, path));
        try
        {
            using var zip = ZipFile.OpenRead(path);
            var found = new List<T>();
            foreach (var entry in zip.Entries.Where(e => e.Name == "OnnxModel").OrderBy(e => e.FullName, StringComparer.Ordinal))
            {
                var bytes = ReadOnnxBytes(entry);
                if (bytes is null)
                    continue;
                var model = ParseOnnx(bytes, entry.FullName);
                if (!VaeModelFormat.IsMLNetVaeGraph(model))
                    continue;
                // Every MLNetVae graph is checked, whichever kind the caller looks for: a damaged detector is not skipped silently.
                // A newer format is refused before its checksum is looked at: this version cannot know how that format seals itself.
                int version = VaeModelFormat.RequireReadableVersion(model);
                GraphChecksum.Verify(bytes, model, required: version >= VaeModelFormat.ChecksumVersion, entry.FullName);
                if (tryRestore(model, out var restored))
                    found.Add(restored!);
            }
            return found;
        }
        catch (VaeModelFileException)
        {
            throw;
        }
        catch (InvalidDataException e)
        {
            throw new VaeModelFileException(path, e.Message.StartsWith("its ", StringComparison.Ordinal)
                ? e.Message
                : $"it is not a readable ML.NET model zip ({e.Message}). It may be truncated or corrupted, or not a model file at all.", e);
        }
        catch (IOException e)
        {
            throw new VaeModelFileException(path, $"it could not be read ({e.Message}).", e);
        }
    }

    /// <summary>The ONNX bytes of an <c>OnnxModel</c> entry (after ML.NET's 32-bit length), or null for an entry too short to be one.</summary>
    private static byte[]? ReadOnnxBytes(ZipArchiveEntry entry)
    {
        using var stream = entry.Open();
        using var buffer = new MemoryStream();
        stream.CopyTo(buffer);
        var bytes = buffer.GetBuffer().AsSpan(0, (int)buffer.Length);
        if (bytes.Length < sizeof(int))
            return null;
        int length = BitConverter.ToInt32(bytes);
        if (length != bytes.Length - sizeof(int))
            throw new InvalidDataException($"its ONNX entry '{entry.FullName}' is damaged (length {length}, {bytes.Length - sizeof(int)} bytes present).");
        return bytes[sizeof(int)..].ToArray();
    }

    private static ModelProto ParseOnnx(byte[] bytes, string entryName)
    {
        try
        {
            return ModelProto.Parser.ParseFrom(bytes);
        }
        catch (InvalidProtocolBufferException e)
        {
            throw new InvalidDataException($"its ONNX entry '{entryName}' is damaged ({e.Message}).", e);
        }
    }
}
