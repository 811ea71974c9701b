using System.IO.Compression;
using System.IO.Hashing;
using System.Text.Json;
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
    /// <summary>
    /// Reads <paramref name="path"/> once (every reader of one load works on the same bytes, so a file replaced meanwhile
    /// cannot mix two models) and checks every zip entry against the CRC-32 the zip stores for it. The VAE graphs carry
    /// their own SHA-256 (<see cref="GraphChecksum"/>); the CRCs cover every other stage (a normalizer's floats, a
    /// Concatenate's column names), which .NET's zip reader does not check.
    /// </summary>
    public static ModelFileContents ReadVerified(string path)
    {
        byte[] bytes;
        try
        {
            bytes = File.ReadAllBytes(path);
        }
        catch (Exception e) when (e is FileNotFoundException or DirectoryNotFoundException)
        {
            throw new VaeModelFileException(path, "the file does not exist.", e);
        }
        catch (UnauthorizedAccessException e)
        {
            throw new VaeModelFileException(path, $"it could not be read ({e.Message}). Check the file's permissions.", e);
        }
        catch (IOException e)
        {
            throw new VaeModelFileException(path, $"it could not be read ({e.Message}).", e);
        }
        var contents = new ModelFileContents(path, bytes);
        Guard(path, () =>
        {
            using var zip = contents.OpenZip();
            var buffer = new byte[81920];
            foreach (var entry in zip.Entries)
            {
                var crc = new Crc32();
                using var stream = entry.Open();
                for (int read; (read = stream.Read(buffer)) > 0;)
                    crc.Append(buffer.AsSpan(0, read));
                if (crc.GetCurrentHashAsUInt32() != entry.Crc32)
                    throw new InvalidDataException(
                        $"its entry '{entry.FullName}' does not match the checksum (CRC-32) stored with it: the file was changed or damaged after it was saved. " +
                        "Save the model again, or restore it from a backup.");
            }
            return 0;
        });
        return contents;
    }

    public static IReadOnlyList<VaeModelFormat.Restored> ReadVaes(ModelFileContents contents) =>
        Read<VaeModelFormat.Restored>(contents, VaeModelFormat.TryRestore);

    /// <summary>The anomaly detectors saved in <paramref name="contents"/>, in pipeline order.</summary>
    public static IReadOnlyList<AnomalyModelFormat.Restored> ReadAnomalyDetectors(ModelFileContents contents) =>
        Read<AnomalyModelFormat.Restored>(contents, AnomalyModelFormat.TryRestore);

    private delegate bool TryRestore<T>(ModelProto model, out T? restored);

    private static IReadOnlyList<T> Read<T>(ModelFileContents contents, TryRestore<T> tryRestore) where T : class =>
        Guard(contents.Path, () =>
        {
            using var zip = contents.OpenZip();
            var found = new List<T>();
            foreach (var entry in zip.Entries.Where(e => e.Name == "OnnxModel").OrderBy(e => e.FullName, StringComparer.Ordinal))
            {
                var bytes = ReadOnnxBytes(entry);
                if (bytes is null)
                    continue;
                var model = ParseOnnx(bytes, entry.FullName);
                if (!VaeModelFormat.IsMLNetVaeGraph(model))
                {
                    // A graph with MLNetVae's metadata whose producer or part no longer says MLNetVae was changed: refused,
                    // not skipped (skipping would return one VAE fewer without a word).
                    if (VaeModelFormat.IsAlteredMLNetVaeGraph(model))
                        throw new InvalidDataException(
                            $"its ONNX entry '{entry.FullName}' carries MLNetVae's metadata but not its producer name or graph part: the graph was changed after it was saved.");
                    continue;
                }
                // Every MLNetVae graph is checked, whichever kind the caller looks for: a damaged detector is not skipped silently.
                // A newer format is refused before its checksum is looked at: this version cannot know how that format seals itself.
                int version = VaeModelFormat.RequireReadableVersion(model);
                GraphChecksum.Verify(bytes, model, required: version >= VaeModelFormat.ChecksumVersion, entry.FullName);
                if (tryRestore(model, out var restored))
                    found.Add(restored!);
            }
            return (IReadOnlyList<T>)found;
        });

    /// <summary>Runs a read of the file's zip, turning what a damaged file throws into a <see cref="VaeModelFileException"/>.</summary>
    private static TResult Guard<TResult>(string path, Func<TResult> read)
    {
        try
        {
            return read();
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
        catch (JsonException e)
        {
            throw new VaeModelFileException(path, $"its VAE's options or training report are damaged ({e.Message}). Save the model again.", e);
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

/// <summary>A model file's bytes, read once; every reader of one load opens its zip from these.</summary>
internal sealed record ModelFileContents(string Path, byte[] Bytes)
{
    public ZipArchive OpenZip() => new(OpenStream(), ZipArchiveMode.Read);

    public Stream OpenStream() => new MemoryStream(Bytes, writable: false);
}
