using System.Diagnostics;
using System.Reflection;
using Microsoft.ML.OnnxRuntime;
using MLNetVae.Onnx;
using Onnx;

namespace MLNetVae.Tests.Onnx;

/// <summary>
/// The exported files judged by tools other than ONNX Runtime: the reference ONNX checker (Python
/// onnx package, full_check includes strict shape inference) and ORT's view of the metadata.
/// </summary>
public class OnnxCheckerTests
{
    private const string Python = "/usr/bin/python3";
    private const string InstallHint = "Install the ONNX checker with `apt-get install python3-onnx` (Debian 12).";

    [Fact]
    public void ExportedModelsPassTheOnnxFullCheck()
    {
        var w = OnnxTestModels.RandomWeights(seed: 11, standardized: true);
        var meta = new OnnxModelMetadata(0.25, new Dictionary<string, string> { ["mlnetvae.test"] = "checker" });
        if (!File.Exists(Python))
            Assert.Fail($"{Python} was not found; the ONNX checker test needs it. {InstallHint}");

        var (probeCode, probeOutput) = RunPython("-c", "import onnx; print(onnx.__version__)");
        if (probeCode != 0)
            Assert.Fail($"The Python 'onnx' module is not importable by {Python} (exit {probeCode}): {probeOutput.Trim()}\n{InstallHint}");

        var dir = Directory.CreateTempSubdirectory("mlnetvae-onnx-check-");
        try
        {
            string encoderPath = Path.Combine(dir.FullName, "encoder.onnx");
            string decoderPath = Path.Combine(dir.FullName, "decoder.onnx");
            using (var s = File.Create(encoderPath)) VaeOnnxExporter.ExportEncoder(w, meta, s);
            using (var s = File.Create(decoderPath)) VaeOnnxExporter.ExportDecoder(w, meta, s);

            var (code, output) = RunPython("-c",
                "import onnx,sys; [onnx.checker.check_model(onnx.load(p), full_check=True) for p in sys.argv[1:]]",
                encoderPath, decoderPath);

            Assert.True(code == 0, $"onnx.checker (onnx {probeOutput.Trim()}) rejected the exported models (exit {code}):\n{output}");
        }
        finally
        {
            dir.Delete(recursive: true);
        }
    }

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public void MetadataIsReadableThroughOnnxRuntime(bool standardized)
    {
        var w = OnnxTestModels.RandomWeights(seed: 12, standardized);
        var meta = new OnnxModelMetadata(0.01, new Dictionary<string, string>
        {
            ["mlnetvae.feature_column"] = "Features",
            ["trained_at"] = "2026-01-01T00:00:00Z",
        });
        string standardizedText = standardized ? "true" : "false";

        foreach (var (bytes, part) in new[] { (VaeOnnxExporter.ExportEncoder(w, meta), "encoder"), (VaeOnnxExporter.ExportDecoder(w, meta), "decoder") })
        {
            using var session = new InferenceSession(bytes);
            var m = session.ModelMetadata;
            Assert.Equal("MLNetVae", m.ProducerName);
            Assert.Contains(part, m.Description);
            Assert.False(string.IsNullOrWhiteSpace(m.GraphDescription));
            Assert.Equal($"mlnetvae_{part}", m.GraphName);

            var props = m.CustomMetadataMap;
            Assert.Equal(part, props[VaeOnnxNames.MetadataKeys.Part]);
            Assert.Equal("7", props[VaeOnnxNames.MetadataKeys.InputDim]);
            Assert.Equal("16", props[VaeOnnxNames.MetadataKeys.HiddenDim]);
            Assert.Equal("3", props[VaeOnnxNames.MetadataKeys.LatentDim]);
            Assert.Equal(standardizedText, props[VaeOnnxNames.MetadataKeys.Standardized]);
            Assert.Equal("0.01", props[VaeOnnxNames.MetadataKeys.Beta]);
            Assert.Equal("Features", props["mlnetvae.feature_column"]);
            Assert.Equal("2026-01-01T00:00:00Z", props["trained_at"]);

            // ORT does not surface producer_version; read it from the protobuf.
            string expectedVersion = typeof(VaeOnnxNames).Assembly
                .GetCustomAttribute<AssemblyInformationalVersionAttribute>()!.InformationalVersion;
            Assert.Equal(expectedVersion, ModelProto.Parser.ParseFrom(bytes).ProducerVersion);
            Assert.StartsWith("0.", expectedVersion);
        }
    }

    [Fact]
    public void BetaIsOmittedWhenNotGiven()
    {
        var w = OnnxTestModels.RandomWeights(seed: 13, standardized: false);
        using var session = new InferenceSession(VaeOnnxExporter.ExportEncoder(w));
        Assert.DoesNotContain(VaeOnnxNames.MetadataKeys.Beta, session.ModelMetadata.CustomMetadataMap.Keys);
        Assert.Equal("false", session.ModelMetadata.CustomMetadataMap[VaeOnnxNames.MetadataKeys.Standardized]);
    }

    private static (int ExitCode, string Output) RunPython(params string[] args)
    {
        var psi = new ProcessStartInfo(Python)
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        foreach (var a in args) psi.ArgumentList.Add(a);
        using var p = Process.Start(psi)!;
        var stdout = p.StandardOutput.ReadToEndAsync();
        var stderr = p.StandardError.ReadToEndAsync();
        if (!p.WaitForExit(TimeSpan.FromMinutes(2)))
        {
            p.Kill(entireProcessTree: true);
            Assert.Fail($"{Python} {string.Join(' ', args)} did not finish within 2 minutes.");
        }
        return (p.ExitCode, stdout.Result + stderr.Result);
    }
}
