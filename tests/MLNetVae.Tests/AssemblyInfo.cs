using System.Runtime.Versioning;

// The project's native packages (libtorch, ONNX Runtime) are linux-x64 builds, and the file-permission tests use
// Unix file modes: the tests run on Linux only.
[assembly: SupportedOSPlatform("linux")]
