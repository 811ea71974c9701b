using System.Diagnostics;
using Microsoft.ML;
using Xunit.Abstractions;

namespace MLNetVae.Tests.Reliability;

/// <summary>
/// Saving (SaveSafely) and exporting (ExportOnnx) onto a full disk, into a read-only folder, and under a path whose
/// parent is a file: a clear error naming the target, the existing files intact, no temporary file left.
/// The tests run as root, and root ignores a folder's write permission (chmod 0555), so a read-only folder and a
/// full disk are made real with a small tmpfs (mount -t tmpfs; remounted read-only for the read-only case). Where
/// mounting is not permitted the read-only case uses chmod (enough when not root); what cannot be simulated says
/// "NOT RUN" in the test output (xunit 2 has no runtime skip).
/// </summary>
[Collection(ReliabilityCollection.Name)]
public class FileFaultTests(NewsModel news, ITestOutputHelper output) : IDisposable
{
    private readonly DirectoryInfo folder = Directory.CreateTempSubdirectory("mlnetvae-files-");
    private readonly List<string> mounts = new();

    public void Dispose()
    {
        foreach (var mount in mounts)
            Run("umount", mount);
        foreach (var directory in folder.EnumerateDirectories("*", SearchOption.AllDirectories))
            directory.UnixFileMode |= UnixFileMode.UserWrite;
        folder.Delete(recursive: true);
    }

    private const string Precious = "precious: the model I saved yesterday";

    [Fact]
    public void SaveSafelyOntoAFullDiskFailsClearlyAndKeepsTheOriginal()
    {
        // 64 KiB: the original fits, the new model (~220 KB of weights) does not.
        if (!TryMountTmpfs("size=64k", out var disk))
            return;
        var path = Path.Combine(disk, "model.zip");
        File.WriteAllText(path, Precious);

        var ex = Assert.Throws<IOException>(() => news.Ml.Model.SaveSafely(news.Model, news.Data.Schema, path, overwrite: true));
        output.WriteLine(ex.Message);
        Assert.Contains($"Could not write '{path}'", ex.Message);
        Assert.Contains("No space left on device", ex.Message);
        Assert.Contains("disk has free space", ex.Message);
        Assert.Equal(Precious, File.ReadAllText(path));
        Assert.Equal(new[] { path }, Directory.GetFileSystemEntries(disk));
    }

    [Fact]
    public void ExportOnnxOntoAFullDiskLeavesTheOldPairIntact()
    {
        // Room for the new encoder but not for the decoder as well. Before the fix the encoder was already moved into
        // place when the decoder failed: a new encoder next to an old decoder.
        using var encoderBytes = new MemoryStream();
        using var decoderBytes = new MemoryStream();
        news.Model.ExportOnnx(encoderBytes, decoderBytes);
        long page = Environment.SystemPageSize;
        long Pages(long bytes) => (bytes + page - 1) / page * page;
        long size = 2 * page + Pages(encoderBytes.Length) + page; // two old files, the new encoder, a little slack
        Assert.True(size < 2 * page + Pages(encoderBytes.Length) + Pages(decoderBytes.Length));
        if (!TryMountTmpfs($"size={size}", out var disk))
            return;
        var encoder = Path.Combine(disk, "encoder.onnx");
        var decoder = Path.Combine(disk, "decoder.onnx");
        File.WriteAllText(encoder, "old encoder");
        File.WriteAllText(decoder, "old decoder");

        var ex = Assert.Throws<IOException>(() => news.Model.ExportOnnx(encoder, decoder, overwrite: true));
        output.WriteLine(ex.Message);
        Assert.Contains($"Could not write '{decoder}'", ex.Message);
        Assert.Equal("old encoder", File.ReadAllText(encoder));
        Assert.Equal("old decoder", File.ReadAllText(decoder));
        Assert.Equal(new[] { decoder, encoder }, Directory.GetFileSystemEntries(disk).Order());
    }

    [Fact]
    public void FilesThatBelongTogetherAreMovedIntoPlaceAllOrNone()
    {
        // Both new files are written, the first is moved into place, then the second's move fails (here a folder in the
        // way; in practice a file of another user in a sticky /tmp). The old first file must come back.
        var encoder = Path.Combine(folder.FullName, "encoder.onnx");
        var decoder = Path.Combine(folder.FullName, "decoder.onnx");
        File.WriteAllText(encoder, "old encoder");
        Directory.CreateDirectory(decoder);
        void Write(Stream stream, string text) => stream.Write(System.Text.Encoding.UTF8.GetBytes(text));

        var ex = Assert.Throws<IOException>(() => MLNetVae.Persistence.SafeFile.WriteAll(
            [(encoder, s => Write(s, "new encoder")), (decoder, s => Write(s, "new decoder"))], overwrite: true));
        output.WriteLine(ex.Message);
        Assert.Contains($"Could not write '{decoder}'", ex.Message);
        Assert.Contains("Nothing was replaced", ex.Message);
        Assert.Equal("old encoder", File.ReadAllText(encoder));
        Assert.Equal(new[] { decoder, encoder }, Directory.GetFileSystemEntries(folder.FullName).Order()); // no temporary or backup file

        // Without the folder in the way both are replaced, and nothing else is left.
        Directory.Delete(decoder);
        File.WriteAllText(decoder, "old decoder");
        MLNetVae.Persistence.SafeFile.WriteAll([(encoder, s => Write(s, "new encoder")), (decoder, s => Write(s, "new decoder"))], overwrite: true);
        Assert.Equal("new encoder", File.ReadAllText(encoder));
        Assert.Equal("new decoder", File.ReadAllText(decoder));
        Assert.Equal(new[] { decoder, encoder }, Directory.GetFileSystemEntries(folder.FullName).Order());
    }

    [Fact]
    public void SavingIntoAReadOnlyFolderFailsClearlyAndKeepsTheOriginal()
    {
        if (ReadOnlyFolder() is not var (target, how))
            return; // root without mount permission: said so in the output; the parent-is-a-file case still runs
        output.WriteLine($"read-only folder made with {how}");
        var model = Path.Combine(target, "model.zip");
        var encoder = Path.Combine(target, "encoder.onnx");
        var decoder = Path.Combine(target, "decoder.onnx");
        var before = Directory.GetFileSystemEntries(target).Order().ToArray();

        var save = Record.Exception(() => news.Ml.Model.SaveSafely(news.Model, news.Data.Schema, model, overwrite: true));
        var export = Record.Exception(() => news.Model.ExportOnnx(encoder, decoder, overwrite: true));
        foreach (var (ex, path) in new[] { (save, model), (export, encoder) })
        {
            Assert.NotNull(ex);
            output.WriteLine($"{ex.GetType().Name}: {ex.Message}");
            Assert.True(ex is IOException or UnauthorizedAccessException, ex.GetType().Name);
            Assert.Contains($"Could not write '{path}'", ex.Message);
            Assert.Contains("folder is writable", ex.Message);
        }
        Assert.Equal(Precious, File.ReadAllText(model));
        Assert.Equal(before, Directory.GetFileSystemEntries(target).Order().ToArray());
    }

    [Fact]
    public void SavingUnderAPathWhoseParentIsAFileFailsClearly()
    {
        var notAFolder = Path.Combine(folder.FullName, "notes.txt");
        File.WriteAllText(notAFolder, "a file, not a folder");
        var model = Path.Combine(notAFolder, "model.zip");

        var ex = Assert.Throws<IOException>(() => news.Ml.Model.SaveSafely(news.Model, news.Data.Schema, model));
        Assert.Contains($"Could not write '{model}'", ex.Message);
        Assert.Contains("parent folders are folders", ex.Message);
        ex = Assert.Throws<IOException>(() => news.Model.ExportOnnx(Path.Combine(notAFolder, "e.onnx"), Path.Combine(notAFolder, "d.onnx")));
        Assert.Contains("e.onnx", ex.Message);
        Assert.Equal("a file, not a folder", File.ReadAllText(notAFolder));
        Assert.Equal(new[] { notAFolder }, Directory.GetFileSystemEntries(folder.FullName));
    }

    /// <summary>A folder holding model.zip (<see cref="Precious"/>) that this process cannot write to, and how it was made.</summary>
    private (string Folder, string How)? ReadOnlyFolder()
    {
        var plain = Directory.CreateDirectory(Path.Combine(folder.FullName, "readonly")).FullName;
        File.WriteAllText(Path.Combine(plain, "model.zip"), Precious);
        File.SetUnixFileMode(plain, UnixFileMode.UserRead | UnixFileMode.UserExecute | UnixFileMode.GroupRead |
            UnixFileMode.GroupExecute | UnixFileMode.OtherRead | UnixFileMode.OtherExecute);
        var probe = Path.Combine(plain, "probe");
        try
        {
            File.WriteAllText(probe, "");
            File.Delete(probe); // root: permissions are not enforced
        }
        catch (UnauthorizedAccessException)
        {
            return (plain, "chmod 0555"); // Dispose makes it writable again to delete it
        }
        output.WriteLine("chmod 0555 does not stop this process (root)");

        if (!TryMountTmpfs("size=1m", out var disk))
            return null;
        File.WriteAllText(Path.Combine(disk, "model.zip"), Precious);
        Assert.Equal(0, Run("mount", "-o", "remount,ro", disk));
        return (disk, "a tmpfs remounted read-only");
    }

    private bool TryMountTmpfs(string options, out string path)
    {
        path = Directory.CreateDirectory(Path.Combine(folder.FullName, $"tmpfs{mounts.Count}")).FullName;
        if (!OperatingSystem.IsLinux() || Run("mount", "-t", "tmpfs", "-o", options, "tmpfs", path) != 0)
        {
            output.WriteLine($"NOT RUN: mounting a tmpfs ({options}) is not permitted here, so a full disk cannot be simulated.");
            return false;
        }
        mounts.Add(path);
        return true;
    }

    private int Run(string command, params string[] arguments)
    {
        try
        {
            var start = new ProcessStartInfo(command) { RedirectStandardError = true, RedirectStandardOutput = true };
            foreach (var argument in arguments) start.ArgumentList.Add(argument);
            using var process = Process.Start(start)!;
            string error = process.StandardError.ReadToEnd();
            process.WaitForExit();
            if (process.ExitCode != 0)
                output.WriteLine($"{command} {string.Join(' ', arguments)}: exit {process.ExitCode} {error}");
            return process.ExitCode;
        }
        catch (System.ComponentModel.Win32Exception e)
        {
            output.WriteLine($"{command}: {e.Message}");
            return -1;
        }
    }
}
