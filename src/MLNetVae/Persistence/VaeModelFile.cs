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
    /// Reads <paramref name="path"/> once and returns every VAE and detector in it: every reader of one load works on the
    /// same bytes, so a file replaced meanwhile cannot mix two models. Every zip entry is checked against the CRC-32 the
    /// zip stores for it (.NET's zip reader does not): the VAE graphs carry their own SHA-256 (<see cref="GraphChecksum"/>),
    /// the CRCs cover every other stage (a normalizer's floats, a Concatenate's column names).
    /// </summary>
    public static SavedModelFile Read(string path) => Guard(path, () =>
    {
        var bytes = File.ReadAllBytes(path);
        using var zip = new ZipArchive(new MemoryStream(bytes, writable: false), ZipArchiveMode.Read);
        VerifyEntryCrcs(zip);
        var vaes = new List<VaeModelFormat.Restored>();
        var detectors = new List<AnomalyModelFormat.Restored>();
        foreach (var entry in zip.Entries.Where(e => e.Name == "OnnxModel").OrderBy(e => e.FullName, StringComparer.Ordinal))
        {
            var graphBytes = ReadOnnxBytes(entry);
            if (graphBytes is null)
                continue;
            var model = ParseOnnx(graphBytes, entry.FullName);
            if (!VaeModelFormat.IsMLNetVaeGraph(model))
            {
                // A graph with MLNetVae's metadata whose producer or part no longer says MLNetVae was changed: refused,
                // not skipped (skipping would return one VAE fewer without a word).
                if (VaeModelFormat.IsAlteredMLNetVaeGraph(model))
                    throw new InvalidDataException(
                        $"its ONNX entry '{entry.FullName}' carries MLNetVae's metadata but not its producer name or graph part: the graph was changed after it was saved.");
                continue;
            }
            // A newer format is refused before its checksum is looked at: this version cannot know how that format seals itself.
            int version = VaeModelFormat.RequireReadableVersion(model);
            GraphChecksum.Verify(graphBytes, model, required: version >= VaeModelFormat.ChecksumVersion, entry.FullName);
            if (VaeModelFormat.TryRestore(model, out var vae))
                vaes.Add(vae!);
            else if (AnomalyModelFormat.TryRestore(model, out var detector))
                detectors.Add(detector!);
        }
        return new SavedModelFile(path, bytes, vaes, detectors);
    });

    private static void VerifyEntryCrcs(ZipArchive zip)
    {
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
    }

    /// <summary>Runs a read of the file, turning what a missing, unreadable or damaged file throws into a <see cref="VaeModelFileException"/>.</summary>
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
        catch (Exception e) when (e is FileNotFoundException or DirectoryNotFoundException)
        {
            throw new VaeModelFileException(path, "the file does not exist.", e);
        }
        catch (UnauthorizedAccessException e)
        {
            throw new VaeModelFileException(path, $"it could not be read ({e.Message}). Check the file's permissions.", e);
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

/// <summary>A model file read once: its bytes (for ML.NET's own loader) and the VAEs and detectors in it, in pipeline order.</summary>
internal sealed record SavedModelFile(string Path, byte[] Bytes, IReadOnlyList<VaeModelFormat.Restored> Vaes,
    IReadOnlyList<AnomalyModelFormat.Restored> Detectors)
{
    public Stream OpenStream() => new MemoryStream(Bytes, writable: false);
}
