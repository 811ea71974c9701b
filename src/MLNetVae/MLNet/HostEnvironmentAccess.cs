using System.Reflection;
using Microsoft.ML;
using Microsoft.ML.Runtime;

namespace MLNetVae.MLNet;

/// <summary>
/// Reads the <see cref="MLContext"/> settings a component needs (logging, seed, GPU choice) from what ML.NET hands
/// an extension method.
/// </summary>
/// <remarks>
/// ML.NET gives a catalog's environment only to its friend assemblies (<c>IInternalCatalog.Environment</c> is
/// internal), and <c>GpuDeviceId</c>/<c>FallbackToCpu</c> are public only on <see cref="MLContext"/> itself. This is the
/// one place the library reads such values by reflection: read-only, by name, with a clear error that points to the
/// reflection-free constructor <c>new VaeEstimator(mlContext, options)</c> if a future ML.NET renames them.
/// A test pins the behaviour.
/// </remarks>
internal static class HostEnvironmentAccess
{
    public static IHostEnvironment FromCatalog(object catalog)
    {
        ArgumentNullException.ThrowIfNull(catalog);
        var catalogInterface = catalog.GetType().GetInterfaces().FirstOrDefault(i => i.Name == "IInternalCatalog");
        var environment = catalogInterface?.GetProperty("Environment")?.GetValue(catalog) as IHostEnvironment;
        return environment ?? throw new NotSupportedException(
            $"This version of ML.NET ({typeof(MLContext).Assembly.GetName().Version}) does not expose the environment of {catalog.GetType().Name}. " +
            "Create the estimator with new VaeEstimator(mlContext, options) instead.");
    }

    /// <summary>MLContext.GpuDeviceId and FallbackToCpu of the context behind <paramref name="environment"/>.</summary>
    public static (int? GpuDeviceId, bool FallbackToCpu) DeviceSettings(IHostEnvironment environment)
    {
        if (environment is MLContext context)
            return (context.GpuDeviceId, context.FallbackToCpu);
        var type = environment.GetType();
        var gpu = type.GetProperty("GpuDeviceId", BindingFlags.Public | BindingFlags.Instance);
        var fallback = type.GetProperty("FallbackToCpu", BindingFlags.Public | BindingFlags.Instance);
        if (gpu is null || fallback is null)
            throw new NotSupportedException(
                $"Cannot read GpuDeviceId/FallbackToCpu from {type.Name}. Create the estimator with new VaeEstimator(mlContext, options) instead.");
        return ((int?)gpu.GetValue(environment), (bool)fallback.GetValue(environment)!);
    }
}
