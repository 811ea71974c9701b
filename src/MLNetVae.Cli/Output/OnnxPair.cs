namespace MLNetVae.Cli.Output;

/// <summary>The VAE's encoder and decoder ONNX models as bytes (<c>VaeTransformer.ExportOnnx</c> to memory), for writing with the other output files.</summary>
internal sealed record OnnxPair(byte[] Encoder, byte[] Decoder)
{
    public static OnnxPair Of(VaeTransformer vae)
    {
        using var encoder = new MemoryStream();
        using var decoder = new MemoryStream();
        vae.ExportOnnx(encoder, decoder);
        return new OnnxPair(encoder.ToArray(), decoder.ToArray());
    }

    /// <summary>The two files for <c>OutputFolder.WriteAll</c>: the encoder as <paramref name="encoderFile"/>, the decoder as <paramref name="decoderFile"/>.</summary>
    public (string FileName, Action<string> Write)[] Files(string encoderFile, string decoderFile) =>
        [(encoderFile, path => File.WriteAllBytes(path, Encoder)), (decoderFile, path => File.WriteAllBytes(path, Decoder))];
}
