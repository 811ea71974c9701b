using System.Reflection;
using System.Runtime.InteropServices;
using System.Security.Cryptography;

namespace MLNetVae.Training.Native;

/// <summary>
/// Makes TorchSharp's native library load on Linux systems whose libstdc++ is older than the one it was built
/// against (Debian 12, Ubuntu 22.04), at run time and without any build step, so it works the same in an app, a test
/// host, a notebook (<c>#r "nuget: MLNetVae"</c>) or an F# script.
/// </summary>
/// <remarks>
/// TorchSharp 0.107's <c>libLibTorchSharp.so</c> needs <c>GLIBCXX_3.4.32</c> (GCC 13); Debian 12's libstdc++ stops at
/// 3.4.30, so <c>dlopen</c> fails and TorchSharp reports a misleading "doesn't contain a reference to libtorch-cpu". The only
/// symbol behind the need is a marker nothing relocates against (<see cref="ElfVersionNeeds"/>). When the library does
/// not load for that reason, a copy with those needs marked weak is written to a per-user cache folder, keyed by the
/// original's SHA-256 (the original, in the NuGet cache or the app folder, is never touched), loaded after the libtorch
/// libraries it needs, and handed to TorchSharp through its assembly's <see cref="NativeLibrary.SetDllImportResolver"/>.
/// </remarks>
internal static class LibTorchSharpLoader
{
    internal const string FileName = "libLibTorchSharp.so";
    private const string ImportName = "LibTorchSharp";

    /// <summary>Overrides the cache folder of the patched copy (for a read-only home, or a shared cache).</summary>
    internal const string CacheVariable = "MLNETVAE_NATIVE_CACHE";

    private static readonly object Gate = new();
    private static bool done;
    private static System.Runtime.ExceptionServices.ExceptionDispatchInfo? failed; // rethrown by later calls

    /// <summary>What the last call did (tests and diagnostics).</summary>
    internal static string Outcome { get; private set; } = "not run";

    /// <summary>The loaded patched copy, when one was needed.</summary>
    internal static string? PatchedCopy { get; private set; }

    /// <summary>Call before TorchSharp's first use; cheap after the first call. Throws only with a cause and a fix.</summary>
    public static void EnsureLoadable()
    {
        if (done)
            return;
        lock (Gate)
        {
            if (done)
                return;
            // A failure stays the answer: later calls get the same cause and fix, not TorchSharp's own misleading error.
            failed?.Throw();
            try
            {
                if (OperatingSystem.IsLinux() && RuntimeInformation.ProcessArchitecture == Architecture.X64)
                {
#pragma warning disable CA1416 // guarded by OperatingSystem.IsLinux() on this line's condition
                    OpenMpSpinning.LimitUnlessConfigured(); // before libtorch (and its OpenMP) is loaded
                    Outcome = Prepare(typeof(TorchSharp.torch).Assembly);
#pragma warning restore CA1416
                }
                else
                    Outcome = "not Linux x64: nothing to do";
            }
            catch (Exception e)
            {
                failed = System.Runtime.ExceptionServices.ExceptionDispatchInfo.Capture(e);
                throw;
            }
            done = true;
        }
    }

    [System.Runtime.Versioning.SupportedOSPlatform("linux")]
    private static string Prepare(Assembly torchSharp)
    {
        if (FindOriginal(torchSharp) is not { } original)
            return "libLibTorchSharp.so not found beside TorchSharp: left to TorchSharp's own loader";
        if (FindLibTorchFolder(original, torchSharp) is not { } libtorch)
            return $"no libtorch_cpu.so found for '{original}': left to TorchSharp's own loader";

        // TorchSharp's native library needs these loaded first when they are not beside it (a notebook's NuGet cache).
        PreloadLibTorch(libtorch);
        var (handle, failure) = TryLoad(original);
        if (failure is null)
        {
            if (Path.GetDirectoryName(original) != libtorch)
                RegisterResolver(torchSharp, handle);
            return $"'{original}' loads as shipped";
        }

        byte[] patched = File.ReadAllBytes(original);
        string originalHash = Convert.ToHexStringLower(SHA256.HashData(patched));
        IReadOnlyList<string> weakened;
        try
        {
            weakened = ElfVersionNeeds.WeakenLibStdCxxNeeds(patched);
        }
        catch (InvalidDataException e)
        {
            throw new InvalidOperationException(
                $"TorchSharp's native library '{original}' cannot be loaded ({failure}) and is not an ELF file MLNetVae can fix ({e.Message}). " +
                "Install a libstdc++ with GLIBCXX_3.4.32 (GCC 13 or newer), or use a TorchSharp build made for this system.", e);
        }
        if (weakened.Count == 0)
            throw new InvalidOperationException(
                $"TorchSharp's native library '{original}' cannot be loaded: {failure} " +
                "This is not the libstdc++ version need MLNetVae fixes; check that the libtorch package TorchSharp expects (libtorch-cpu-linux-x64) is referenced and complete.");

        string copy = WriteCachedCopy(patched, originalHash, failure);
        var (copyHandle, stillFailing) = TryLoad(copy);
        if (stillFailing is not null)
            throw new InvalidOperationException(
                $"TorchSharp's native library '{original}' cannot be loaded ({failure}); the copy with the libstdc++ needs {string.Join(", ", weakened)} " +
                $"marked weak ('{copy}') does not load either: {stillFailing} Install a libstdc++ with GLIBCXX_3.4.32 (GCC 13 or newer).");
        RegisterResolver(torchSharp, copyHandle);
        PatchedCopy = copy;
        return $"'{original}' needs {string.Join(", ", weakened)}, which this libstdc++ lacks: loaded the patched copy '{copy}'";
    }

    /// <summary>Where the host would load TorchSharp's library from: the app folder, or TorchSharp's own package folder.</summary>
    private static string? FindOriginal(Assembly torchSharp)
    {
        var folders = new List<string> { AppContext.BaseDirectory };
        if (Path.GetDirectoryName(torchSharp.Location) is { Length: > 0 } assemblyFolder)
        {
            folders.Add(assemblyFolder);
            folders.Add(Path.Combine(assemblyFolder, "..", "..")); // packages/torchsharp/<version>/lib/<tfm>/TorchSharp.dll
        }
        folders.AddRange(NativeSearchDirectories());
        return folders
            .SelectMany(f => new[] { Path.Combine(f, FileName), Path.Combine(f, "runtimes", "linux-x64", "native", FileName) })
            .Select(Path.GetFullPath)
            .FirstOrDefault(File.Exists);
    }

    /// <summary>The folder with libtorch_cpu.so: beside the original, on the host's native search path, or the libtorch-cpu package in the same NuGet cache.</summary>
    private static string? FindLibTorchFolder(string original, Assembly torchSharp)
    {
        var folders = new List<string> { Path.GetDirectoryName(original)! };
        folders.AddRange(NativeSearchDirectories());
        // packages/torchsharp/<version>/lib/<tfm>/TorchSharp.dll → packages/libtorch-cpu-linux-x64/<version>/runtimes/linux-x64/native
        if (Path.GetDirectoryName(torchSharp.Location) is { Length: > 0 } assemblyFolder)
        {
            string packages = Path.GetFullPath(Path.Combine(assemblyFolder, "..", "..", "..", ".."));
            string libtorchPackage = Path.Combine(packages, "libtorch-cpu-linux-x64");
            if (Directory.Exists(libtorchPackage))
                folders.AddRange(Directory.GetDirectories(libtorchPackage).OrderDescending().Select(v => Path.Combine(v, "runtimes", "linux-x64", "native")));
        }
        return folders.Select(Path.GetFullPath).FirstOrDefault(f => File.Exists(Path.Combine(f, "libtorch_cpu.so")));
    }

    private static IEnumerable<string> NativeSearchDirectories() =>
        (AppContext.GetData("NATIVE_DLL_SEARCH_DIRECTORIES") as string ?? "")
            .Split(Path.PathSeparator, StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries);

    private static void PreloadLibTorch(string folder)
    {
        foreach (string name in new[] { "libc10.so", "libtorch_cpu.so", "libtorch.so" })
        {
            string path = Path.Combine(folder, name);
            if (File.Exists(path))
                NativeLibrary.TryLoad(path, out _);
        }
    }

    /// <summary>The handle when <paramref name="path"/> loads (failure null), else the loader's message.</summary>
    private static (IntPtr Handle, string? Failure) TryLoad(string path)
    {
        try
        {
            return (NativeLibrary.Load(path), null);
        }
        catch (DllNotFoundException e)
        {
            // The loader's own line (e.g. "version `GLIBCXX_3.4.32' not found (required by …)") says it all.
            return (IntPtr.Zero, e.Message.Split('\n').LastOrDefault(l => l.Contains("not found", StringComparison.Ordinal))?.Trim() ?? e.Message);
        }
        catch (BadImageFormatException e)
        {
            return (IntPtr.Zero, e.Message);
        }
    }

    /// <summary>
    /// Writes <paramref name="patched"/> to the first writable cache folder (see <see cref="CacheFolders"/>) under the
    /// original's hash, unless an identical copy is there; atomic (temporary file, then rename), so concurrent processes
    /// never see half a file.
    /// </summary>
    [System.Runtime.Versioning.SupportedOSPlatform("linux")]
    private static string WriteCachedCopy(byte[] patched, string originalHash, string failure)
    {
        byte[] expected = SHA256.HashData(patched);
        var problems = new List<string>();
        foreach (string root in CacheFolders())
        {
            string folder = Path.Combine(root, originalHash[..16]);
            string path = Path.Combine(folder, FileName);
            try
            {
                if (File.Exists(path) && SHA256.HashData(File.ReadAllBytes(path)).AsSpan().SequenceEqual(expected))
                    return path;
                Directory.CreateDirectory(folder, UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute);
                // A name of its own per write: two processes with the same id (PID 1 in two containers sharing a
                // cache folder) must not write into one temporary file; the move is atomic either way.
                string temp = Path.Combine(folder, $".{FileName}.{Environment.ProcessId}.{Guid.NewGuid():N}.tmp");
                try
                {
                    File.WriteAllBytes(temp, patched);
                    File.Move(temp, path, overwrite: true);
                }
                finally
                {
                    File.Delete(temp); // nothing left when the move happened; the partial copy when it did not
                }
                return path;
            }
            catch (Exception e) when (e is IOException or UnauthorizedAccessException)
            {
                problems.Add($"{root}: {e.Message}");
            }
        }
        throw new InvalidOperationException(
            $"TorchSharp's native library cannot be loaded on this system ({failure}). MLNetVae fixes that with a patched copy in a cache folder, " +
            $"but none could be written ({string.Join("; ", problems)}). Set {CacheVariable} to a writable folder.");
    }

    /// <summary>$MLNETVAE_NATIVE_CACHE, else $XDG_CACHE_HOME/mlnetvae/native or ~/.cache/mlnetvae/native, else a per-user folder under the temp folder.</summary>
    internal static IEnumerable<string> CacheFolders()
    {
        if (Environment.GetEnvironmentVariable(CacheVariable) is { Length: > 0 } explicitFolder)
        {
            yield return explicitFolder;
            yield break;
        }
        if (Environment.GetEnvironmentVariable("XDG_CACHE_HOME") is { Length: > 0 } xdg)
            yield return Path.Combine(xdg, "mlnetvae", "native");
        if (Environment.GetFolderPath(Environment.SpecialFolder.UserProfile) is { Length: > 0 } home)
            yield return Path.Combine(home, ".cache", "mlnetvae", "native");
        yield return Path.Combine(Path.GetTempPath(), $"mlnetvae-native-{Environment.UserName}");
    }

    private static void RegisterResolver(Assembly torchSharp, IntPtr handle)
    {
        try
        {
            NativeLibrary.SetDllImportResolver(torchSharp, (name, _, _) => name == ImportName ? handle : IntPtr.Zero);
        }
        catch (InvalidOperationException e)
        {
            throw new InvalidOperationException(
                "TorchSharp's native library needs MLNetVae's load fix on this system, but another component already set a DllImport resolver " +
                "for TorchSharp's assembly. Load TorchSharp's library yourself before MLNetVae trains, or remove that resolver.", e);
        }
    }
}
