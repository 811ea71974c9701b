using System.Runtime.CompilerServices;

namespace MLNetVae.Tests.TestSupport;

internal static class NativeLibrarySetup
{
    /// <summary>
    /// Some tests call TorchSharp directly (tensors, the network on its own) before any library code has run; the
    /// library makes TorchSharp's native library loadable before its own first use, and this does the same for them.
    /// </summary>
    [ModuleInitializer]
    internal static void MakeTorchSharpLoadable() => MLNetVae.Training.Native.LibTorchSharpLoader.EnsureLoadable();
}
