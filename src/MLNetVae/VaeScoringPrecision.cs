namespace MLNetVae;

/// <summary>The arithmetic the VAE's ONNX graphs score with. Training is always float32.</summary>
public enum VaeScoringPrecision
{
    /// <summary>float32 throughout: the trained network exactly. The default.</summary>
    Float32 = 0,

    /// <summary>
    /// The six linear layers in int8 (weights per output channel, activations per row), everything else — the
    /// standardization, the sampling, the scores — in float32. About twice the rows per second on CPUs with 8-bit dot
    /// product instructions (AVX512-VNNI, AMX, ARM dot product) for networks with a few hundred hidden units or more;
    /// slower than float32 for small ones (below about 150 hidden units), where per-operation overhead dominates. The
    /// outputs differ from float32 by the quantization error (docs/benchmarks.md "Int8 scoring" and docs/evaluation.md
    /// give what was measured: ROC-AUC within 0.002 on 23 data sets, Mu cosine ≥ 0.9998). The graphs use ONNX Runtime's
    /// <c>com.microsoft</c> operators, so exported int8 files run in ONNX Runtime only.
    /// </summary>
    Int8 = 1,
}
