using TorchSharp;
using static TorchSharp.torch;

namespace MLNetVae.Training;

/// <summary>Chooses the TorchSharp device the way ML.NET's own TorchSharp trainers do.</summary>
internal static class TorchDevices
{
    /// <summary>
    /// No GPU requested → CPU. A GPU requested and CUDA available → that GPU. A GPU requested without CUDA →
    /// CPU when <paramref name="fallbackToCpu"/> (a warning is logged), otherwise a clear exception.
    /// </summary>
    public static Device Select(int? gpuDeviceId, bool fallbackToCpu, Action<string>? warn)
    {
        Native.LibTorchSharpLoader.EnsureLoadable();
        if (gpuDeviceId is not { } id)
            return CPU;
        if (id < 0)
            throw new ArgumentOutOfRangeException(nameof(gpuDeviceId), id, $"MLContext.GpuDeviceId is {id}; it must be null (CPU) or a CUDA device index >= 0.");

        bool available = cuda.is_available();
        int count = available ? cuda.device_count() : 0;
        if (available && id < count)
            return new Device(DeviceType.CUDA, id);

        string why = available
            ? $"MLContext.GpuDeviceId is {id}, but TorchSharp sees only {count} CUDA device(s)."
            : $"MLContext.GpuDeviceId is {id}, but TorchSharp has no CUDA backend (the application references the CPU libtorch package, or no CUDA driver is installed).";
        if (fallbackToCpu)
        {
            warn?.Invoke(why + " Training on the CPU because MLContext.FallbackToCpu is true.");
            return CPU;
        }
        throw new InvalidOperationException(
            why + " Set MLContext.FallbackToCpu = true to train on the CPU, set GpuDeviceId = null, or reference a CUDA build of libtorch (e.g. libtorch-cuda-12.8-linux-x64) in the application.");
    }
}
