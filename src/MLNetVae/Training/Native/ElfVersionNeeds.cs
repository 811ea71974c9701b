using System.Buffers.Binary;
using System.Text;

namespace MLNetVae.Training.Native;

/// <summary>
/// Marks an ELF library's version needs on libstdc++ weak (<c>VER_FLG_WEAK</c> in <c>.gnu.version_r</c>): a weak need is
/// still checked where the version exists and tolerated where it does not. Only the versions newer than Debian 12's
/// libstdc++ (GLIBCXX_3.4.30, CXXABI_1.3.13) are touched, a fixed list rather than a probe of this machine, so a real
/// incompatibility (a symbol that is actually relocated against) still fails loudly.
/// </summary>
internal static class ElfVersionNeeds
{
    internal static readonly string[] WeakenedVersions = ["GLIBCXX_3.4.31", "GLIBCXX_3.4.32", "CXXABI_1.3.14", "CXXABI_1.3.15"];

    private const ushort VerFlagWeak = 0x2;
    private const uint ShtGnuVerneed = 0x6ffffffe;

    /// <summary>Weakens the needs in place; returns the versions weakened (none: nothing to do, or already weak).</summary>
    /// <exception cref="InvalidDataException">Not an ELF64 little-endian file with a readable version-needs section.</exception>
    public static IReadOnlyList<string> WeakenLibStdCxxNeeds(byte[] elf)
    {
        try
        {
            return Weaken(elf);
        }
        catch (Exception e) when (e is ArgumentOutOfRangeException or IndexOutOfRangeException or OverflowException or ArgumentException)
        {
            throw new InvalidDataException($"malformed ELF structure ({e.Message})", e);
        }
    }

    private static List<string> Weaken(byte[] b)
    {
        if (b.Length < 64 || b[0] != 0x7f || b[1] != (byte)'E' || b[2] != (byte)'L' || b[3] != (byte)'F')
            throw new InvalidDataException("no ELF magic");
        if (b[4] != 2 || b[5] != 1)
            throw new InvalidDataException("not ELFCLASS64 / ELFDATA2LSB");
        int sectionHeaders = Offset(U64(b, 0x28)), entrySize = U16(b, 0x3a), sections = U16(b, 0x3c);
        if (entrySize != 64 || sections == 0)
            throw new InvalidDataException("unexpected section header table");

        var weakened = new List<string>();
        for (int i = 0; i < sections; i++)
        {
            int sh = checked(sectionHeaders + i * 64);
            if (U32(b, sh + 4) != ShtGnuVerneed)
                continue;
            int need = Offset(U64(b, sh + 24)), count = (int)U32(b, sh + 44);
            int strings = Offset(U64(b, checked(sectionHeaders + (int)U32(b, sh + 40) * 64) + 24));
            for (int n = 0; n < count; n++)
            {
                bool libStdCxx = String(b, strings, U32(b, need + 4)) == "libstdc++.so.6";
                int aux = checked(need + (int)U32(b, need + 8));
                for (int a = 0, auxCount = U16(b, need + 2); a < auxCount; a++)
                {
                    ushort flags = U16(b, aux + 4);
                    string version = String(b, strings, U32(b, aux + 8));
                    if (libStdCxx && (flags & VerFlagWeak) == 0 && Array.IndexOf(WeakenedVersions, version) >= 0)
                    {
                        BinaryPrimitives.WriteUInt16LittleEndian(b.AsSpan(aux + 4), (ushort)(flags | VerFlagWeak));
                        weakened.Add(version);
                    }
                    if (U32(b, aux + 12) == 0)
                        break;
                    aux = checked(aux + (int)U32(b, aux + 12));
                }
                if (U32(b, need + 12) == 0)
                    break;
                need = checked(need + (int)U32(b, need + 12));
            }
        }
        return weakened;
    }

    private static ushort U16(byte[] b, int offset) => BinaryPrimitives.ReadUInt16LittleEndian(b.AsSpan(offset, 2));
    private static uint U32(byte[] b, int offset) => BinaryPrimitives.ReadUInt32LittleEndian(b.AsSpan(offset, 4));
    private static ulong U64(byte[] b, int offset) => BinaryPrimitives.ReadUInt64LittleEndian(b.AsSpan(offset, 8));
    private static int Offset(ulong value) => checked((int)value);

    private static string String(byte[] b, int table, uint offset)
    {
        int start = checked(table + (int)offset), end = Array.IndexOf(b, (byte)0, start);
        if (end < 0)
            throw new InvalidDataException("unterminated string");
        return Encoding.ASCII.GetString(b, start, end - start);
    }
}
