using System.Globalization;
using System.Text;

namespace MLNetVae.Cli.Output;

/// <summary>Writes CSV files the way every command does: invariant culture, written to a temporary file and moved into place.</summary>
internal static class CsvOutput
{
    /// <summary>Writes <paramref name="header"/> and then one line per row from <paramref name="writeRows"/>.</summary>
    public static void Write(string path, IReadOnlyList<string> header, Action<Action<IEnumerable<string>>> writeRows)
    {
        string temp = path + ".tmp";
        try
        {
            using (var writer = new StreamWriter(temp, append: false, new UTF8Encoding(encoderShouldEmitUTF8Identifier: false)))
            {
                writer.NewLine = "\n";
                writer.WriteLine(string.Join(',', header.Select(Quote)));
                writeRows(fields => writer.WriteLine(string.Join(',', fields)));
            }
            File.Move(temp, path, overwrite: true);
        }
        finally
        {
            if (File.Exists(temp))
                File.Delete(temp);
        }
    }

    /// <summary>A float that reads back to the same value.</summary>
    public static string Number(float value) => value.ToString("R", CultureInfo.InvariantCulture);

    private static string Quote(string name) =>
        name.IndexOfAny([',', '"', '\n', '\r']) < 0 ? name : "\"" + name.Replace("\"", "\"\"") + "\"";
}
