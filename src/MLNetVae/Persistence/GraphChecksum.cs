using System.Security.Cryptography;
using Google.Protobuf;
using Onnx;

namespace MLNetVae.Persistence;

/// <summary>
/// A SHA-256 of every byte of a saved graph — weights, nodes and metadata — carried inside the graph itself, so a model
/// file whose graph changed by one byte is refused even when its zip was rewritten with valid CRCs.
/// </summary>
/// <remarks>
/// The checksum is one more <c>metadata_props</c> entry appended after the serialized model: protobuf concatenates
/// repeated fields, so the result is a valid ONNX model whose last metadata entry is the hash of all the bytes before
/// it. Verifying re-creates that entry's bytes from the parsed value, checks that the file ends with exactly them, and
/// hashes the rest: a check of the bytes as stored, not of a re-serialization (which could normalise a change away).
/// </remarks>
internal static class GraphChecksum
{
    public const string Key = "mlnetvae.sha256";

    /// <summary><paramref name="model"/>'s bytes followed by the checksum entry.</summary>
    public static byte[] Seal(byte[] model)
    {
        var suffix = Entry(Convert.ToHexStringLower(SHA256.HashData(model)));
        var sealedModel = new byte[model.Length + suffix.Length];
        model.CopyTo(sealedModel, 0);
        suffix.CopyTo(sealedModel, model.Length);
        return sealedModel;
    }

    /// <summary>
    /// Checks the checksum of <paramref name="bytes"/> (parsed as <paramref name="model"/>). A graph without one is
    /// accepted only when <paramref name="required"/> is false (files written before format 2).
    /// </summary>
    /// <exception cref="InvalidDataException">The checksum is missing where required, misplaced, or does not match.</exception>
    public static void Verify(ReadOnlySpan<byte> bytes, ModelProto model, bool required, string entryName)
    {
        var entries = model.MetadataProps.Where(p => p.Key == Key).ToList();
        if (entries.Count == 0)
        {
            if (required)
                throw new InvalidDataException($"its graph '{entryName}' has no '{Key}' checksum, which its format requires: the file was changed.");
            return;
        }
        if (entries.Count > 1 || model.MetadataProps[^1].Key != Key)
            throw new InvalidDataException($"its graph '{entryName}' has a misplaced '{Key}' checksum: the file was changed.");

        var suffix = Entry(entries[0].Value);
        if (bytes.Length < suffix.Length || !bytes[^suffix.Length..].SequenceEqual(suffix))
            throw new InvalidDataException($"its graph '{entryName}' does not end with its '{Key}' checksum: the file was changed.");
        string actual = Convert.ToHexStringLower(SHA256.HashData(bytes[..^suffix.Length]));
        if (!string.Equals(actual, entries[0].Value, StringComparison.Ordinal))
            throw new InvalidDataException(
                $"its graph '{entryName}' does not match its checksum (SHA-256 {actual}, stored {entries[0].Value}): the weights, " +
                "nodes or settings were changed after saving, e.g. by a damaged disk or transfer. Restore the file from a good copy or save the model again.");
    }

    /// <summary>The serialized bytes of a model holding only the checksum entry: exactly what <see cref="Seal"/> appends.</summary>
    private static byte[] Entry(string hash) =>
        new ModelProto { MetadataProps = { new StringStringEntryProto { Key = Key, Value = hash } } }.ToByteArray();
}
