namespace MLNetVae.Onnx;

/// <summary>
/// What the exporter writes into a model's <c>metadata_props</c> besides what it reads off the
/// weights (dimensions, standardization): the training β, and free-form extra key/value pairs
/// (e.g. column names, training timestamp) that travel with the file.
/// </summary>
/// <param name="Beta">KL weight used in training; written as <see cref="VaeOnnxNames.MetadataKeys.Beta"/> when not null.</param>
/// <param name="Extra">
/// Additional properties, written after the exporter's own keys in ordinal key order (so the same
/// input always gives the same bytes). A key may not repeat one of <see cref="VaeOnnxNames.MetadataKeys"/>.
/// </param>
internal sealed record OnnxModelMetadata(double? Beta = null, IReadOnlyDictionary<string, string>? Extra = null)
{
    /// <summary>No β and no extra properties.</summary>
    public static OnnxModelMetadata Empty { get; } = new();
}
