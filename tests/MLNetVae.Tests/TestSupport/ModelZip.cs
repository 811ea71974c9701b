using System.IO.Compression;

namespace MLNetVae.Tests.TestSupport;

/// <summary>The one ONNX graph of a saved ML.NET model zip, read or replaced the way a damaged or tampered file would be.</summary>
internal static class ModelZip
{
    /// <summary>The ONNX bytes of the <c>OnnxModel</c> entry (ML.NET stores a 32-bit length, then the bytes).</summary>
    public static byte[] ReadGraph(string zipPath)
    {
        using var zip = ZipFile.OpenRead(zipPath);
        using var stream = zip.Entries.Single(e => e.Name == "OnnxModel").Open();
        using var buffer = new MemoryStream();
        stream.CopyTo(buffer);
        return buffer.ToArray()[sizeof(int)..];
    }

    /// <summary>Replaces that entry with <paramref name="graph"/>; the zip is rewritten with valid CRCs.</summary>
    public static void ReplaceGraph(string zipPath, byte[] graph)
    {
        using var zip = ZipFile.Open(zipPath, ZipArchiveMode.Update);
        var entry = zip.Entries.Single(e => e.Name == "OnnxModel");
        string name = entry.FullName;
        entry.Delete();
        using var stream = zip.CreateEntry(name).Open();
        stream.Write(BitConverter.GetBytes(graph.Length));
        stream.Write(graph);
    }
}
