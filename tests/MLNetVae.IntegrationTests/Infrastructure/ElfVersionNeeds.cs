using System.Buffers.Binary;
using System.Text;

namespace MLNetVae.Tests.Infrastructure;

/// <summary>One Vernaux entry of an ELF <c>.gnu.version_r</c> section: a version the file needs from a library.</summary>
internal sealed record ElfVersionNeed(string File, string Version, ushort Flags)
{
    public const ushort VerFlgWeak = 0x2;

    public bool IsWeak => (Flags & VerFlgWeak) != 0;
}

/// <summary>
/// Minimal ELF64 little-endian reader for version needs (what <c>readelf -V</c> prints under
/// ".gnu.version_r"). Test-side counterpart of the inline task in buildTransitive/MLNetVae.targets,
/// written separately so the tests check the task rather than share its bugs.
/// </summary>
internal static class ElfVersionNeeds
{
    private const uint ShtGnuVerneed = 0x6ffffffe;

    public static IReadOnlyList<ElfVersionNeed> Read(string path)
    {
        byte[] b = File.ReadAllBytes(path);
        if (b.Length < 64 || b[0] != 0x7f || b[1] != 'E' || b[2] != 'L' || b[3] != 'F')
            throw new InvalidDataException($"{path}: not an ELF file");
        if (b[4] != 2 || b[5] != 1)
            throw new InvalidDataException($"{path}: not ELF64 little-endian");

        int shoff = checked((int)U64(b, 0x28));
        int shentsize = U16(b, 0x3a), shnum = U16(b, 0x3c);
        var needs = new List<ElfVersionNeed>();
        for (int i = 0; i < shnum; i++)
        {
            int sh = shoff + i * shentsize;
            if (U32(b, sh + 4) != ShtGnuVerneed)
                continue;
            int need = checked((int)U64(b, sh + 24));
            int count = checked((int)U32(b, sh + 44));
            int strtab = checked((int)U64(b, shoff + checked((int)U32(b, sh + 40)) * shentsize + 24));
            for (int n = 0; n < count; n++)
            {
                string file = Str(b, strtab, U32(b, need + 4));
                int aux = need + checked((int)U32(b, need + 8));
                for (int a = 0, cnt = U16(b, need + 2); a < cnt; a++)
                {
                    needs.Add(new ElfVersionNeed(file, Str(b, strtab, U32(b, aux + 8)), U16(b, aux + 4)));
                    aux += checked((int)U32(b, aux + 12));
                }
                need += checked((int)U32(b, need + 12));
            }
        }
        return needs;
    }

    private static ushort U16(byte[] b, int at) => BinaryPrimitives.ReadUInt16LittleEndian(b.AsSpan(at));

    private static uint U32(byte[] b, int at) => BinaryPrimitives.ReadUInt32LittleEndian(b.AsSpan(at));

    private static ulong U64(byte[] b, int at) => BinaryPrimitives.ReadUInt64LittleEndian(b.AsSpan(at));

    private static string Str(byte[] b, int strtab, uint at)
    {
        ReadOnlySpan<byte> s = b.AsSpan(checked(strtab + (int)at));
        return Encoding.ASCII.GetString(s[..s.IndexOf((byte)0)]);
    }
}
