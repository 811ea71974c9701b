namespace MLNetVae;

/// <summary>
/// A saved model file cannot be read as an MLNetVae model: it is missing, not an ML.NET model zip, truncated or
/// corrupted, holds no VAE, or was written by a newer format. The message names the file and the problem.
/// Nothing is half-loaded: no transformer is returned.
/// </summary>
public sealed class VaeModelFileException : IOException
{
    internal VaeModelFileException(string filePath, string problem, Exception? inner = null)
        : base($"Cannot load the VAE model '{filePath}': {problem}", inner)
    {
        FilePath = filePath;
    }

    /// <summary>The file that failed to load.</summary>
    public string FilePath { get; }
}
