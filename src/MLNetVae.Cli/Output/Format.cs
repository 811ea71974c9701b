using System.Globalization;

namespace MLNetVae.Cli.Output;

/// <summary>Culture-independent number formats shared by tables, plots and messages.</summary>
internal static class Format
{
    /// <summary>0.05 → "5%", 0.125 → "12.5%".</summary>
    public static string Percent(double fraction) => (fraction * 100).ToString("0.#", CultureInfo.InvariantCulture) + "%";

    /// <summary>Fixed decimals, invariant culture.</summary>
    public static string Fixed(double value, int decimals) => value.ToString("F" + decimals, CultureInfo.InvariantCulture);
}
