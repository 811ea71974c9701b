using System.CommandLine;
using System.Globalization;
using MLNetVae.Cli.Data;

namespace MLNetVae.Cli.Commands;

/// <summary>Options several commands share, so they are spelled and described the same everywhere.</summary>
internal static class CommonOptions
{
    public static Option<string> Data(string description) => new("--data", "-d")
    {
        Description = description + " Format: " + DataFile.FormatsText + ".",
        HelpName = "file",
        Required = true,
    };

    public static Option<string> Model() => new("--model", "-m")
    {
        Description = "Model file written by 'mlnetvae train' (model.zip).",
        HelpName = "model.zip",
        Required = true,
    };

    public static Option<string> OutputFolder(string description) => new("--output", "-o")
    {
        Description = description,
        HelpName = "folder",
        Required = true,
    };

    public static Option<string> OutputFile(string description) => new("--output", "-o")
    {
        Description = description,
        HelpName = "file.csv",
        Required = true,
    };

    public static Option<bool> Overwrite() => new("--overwrite") { Description = "Replace existing output files (without it, existing files are never touched)." };

    public static Option<string> LabelColumn(string description) => new("--label-column")
    {
        Description = description,
        HelpName = "name",
        DefaultValueFactory = _ => LabelledCsv.LabelColumn,
    };

    public static Option<float?> Threshold()
    {
        var option = new Option<float?>("--threshold")
        {
            Description = "Flag rows whose score is above this value, instead of the threshold stored in the model.",
            HelpName = "score",
        };
        option.Validators.Add(result =>
        {
            // NaN would flag nothing and ∞ everything or nothing: neither is a threshold.
            if (result.Tokens.Count > 0 && float.TryParse(result.Tokens[^1].Value, NumberStyles.Float, CultureInfo.InvariantCulture, out float value) && !float.IsFinite(value))
                result.AddError($"--threshold must be a finite number; got {result.Tokens[^1].Value}.");
        });
        return option;
    }

    public static Option<int> Seed(string description) => new("--seed")
    {
        Description = description,
        DefaultValueFactory = _ => 1,
    };

    /// <summary>Adds a validator: the option's value must be &gt; 0.</summary>
    public static Option<T> Positive<T>(this Option<T> option)
    {
        option.Validators.Add(result =>
        {
            // Validators also run when the value did not parse; that error is reported already.
            if (result.Tokens.Count > 0 && int.TryParse(result.Tokens[^1].Value, out int value) && value <= 0)
                result.AddError($"{option.Name} must be a positive number; got {value}.");
        });
        return option;
    }

    /// <summary>Refuses whole numbers outside [<paramref name="min"/>, <paramref name="max"/>], naming the option.</summary>
    public static Option<int> InRange(this Option<int> option, int min, int max)
    {
        option.Validators.Add(result =>
        {
            if (result.Tokens.Count > 0 && int.TryParse(result.Tokens[^1].Value, NumberStyles.Integer, CultureInfo.InvariantCulture, out int value)
                && (value < min || value > max))
                result.AddError($"{option.Name} must be in [{min}, {max}]; got {value}.");
        });
        return option;
    }

    /// <summary>Adds a validator: the value must lie in the given range.</summary>
    public static Option<double> InRange(this Option<double> option, double min, bool minInclusive, double max, bool maxInclusive)
    {
        option.Validators.Add(result =>
        {
            if (result.Tokens.Count == 0 || !double.TryParse(result.Tokens[^1].Value, NumberStyles.Float, CultureInfo.InvariantCulture, out double value))
                return;
            bool ok = (minInclusive ? value >= min : value > min) && (maxInclusive ? value <= max : value < max);
            if (!ok)
                result.AddError(string.Create(CultureInfo.InvariantCulture,
                    $"{option.Name} must be in {(minInclusive ? "[" : "(")}{min}, {max}{(maxInclusive ? "]" : ")")}; got {value}."));
        });
        return option;
    }

    /// <summary>Comma-separated names (or the option repeated) → a list; null when not given.</summary>
    public static IReadOnlyList<string>? Names(string[]? values) =>
        values is null || values.Length == 0
            ? null
            : values.SelectMany(v => v.Split(',', StringSplitOptions.TrimEntries | StringSplitOptions.RemoveEmptyEntries)).ToArray();

    /// <summary>Whether the user typed the option (rather than getting its default).</summary>
    public static bool WasGiven(this ParseResult parseResult, Option option) => parseResult.GetResult(option) is { Implicit: false };
}
