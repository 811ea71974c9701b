using Microsoft.ML.OnnxRuntime;
using Microsoft.ML.OnnxRuntime.Tensors;
using MLNetVae.AnomalyDetection;
using MLNetVae.Model;
using MLNetVae.Onnx;
using MLNetVae.Tests.TestSupport;

namespace MLNetVae.Tests.Onnx;

/// <summary>
/// The detector's one score definition (<see cref="AnomalyScoreGraph"/>): its batch form (what <c>Transform</c> runs) and
/// its one-row form (what saved models carry) hold the same nodes and give the same numbers, and both equal a
/// double-precision computation of each score written from its definition with the same noise table.
/// </summary>
public sealed class AnomalyScoreGraphTests
{
    private const int Rows = 40;

    public static TheoryData<VaeAnomalyScoreKind, bool, VaeAnomalyLikelihood> Cases()
    {
        var cases = new TheoryData<VaeAnomalyScoreKind, bool, VaeAnomalyLikelihood>();
        foreach (var kind in Enum.GetValues<VaeAnomalyScoreKind>())
        {
            cases.Add(kind, true, VaeAnomalyLikelihood.Gaussian);
            cases.Add(kind, false, VaeAnomalyLikelihood.Gaussian);
        }
        // The likelihood changes only the negative ELBO's reconstruction term.
        cases.Add(VaeAnomalyScoreKind.NegativeElbo, true, VaeAnomalyLikelihood.StudentT);
        cases.Add(VaeAnomalyScoreKind.NegativeElbo, false, VaeAnomalyLikelihood.StudentT);
        return cases;
    }

    private static AnomalyScoreDefinition Definition(VaeAnomalyScoreKind kind, VaeAnomalyLikelihood likelihood) =>
        new(kind, Samples: 6, Seed: 11, Beta: 0.7, LogVarianceLimit: 20f, Likelihood: likelihood);

    [Theory]
    [MemberData(nameof(Cases))]
    public void BatchAndRowGraphsAreTheSameNodesAndGiveTheSameScores(VaeAnomalyScoreKind kind, bool standardized, VaeAnomalyLikelihood likelihood)
    {
        var weights = OnnxTestModels.RandomWeights(seed: 5, standardized);
        var definition = Definition(kind, likelihood);
        var x = OnnxTestModels.RandomFeatures(weights, Rows, seed: 9);

        var batchModel = global::Onnx.ModelProto.Parser.ParseFrom(AnomalyScoreGraph.ExportBatchGraph(weights, definition, withScore: true, withPerFeatureError: true));
        var rowModel = AnomalyScoreGraph.BuildRowGraph(weights, new AnomalyRowGraphNames("Features", "ScoreVector", "Errors"), definition, OnnxModelMetadata.Empty);
        // The row graph is the batch graph between a reshape of its input and one of its per-feature output.
        var rowOps = rowModel.Graph.Node.Select(n => n.OpType).ToList();
        Assert.Equal("Reshape", rowOps[0]);
        Assert.Equal("Reshape", rowOps[^1]);
        Assert.Equal(batchModel.Graph.Node.Select(n => n.OpType), rowOps.Skip(1).SkipLast(1));

        var (batchScores, batchErrors) = RunBatch(AnomalyScoreGraph.ExportBatchGraph(weights, definition, true, true), x);
        using var rowSession = new InferenceSession(AnomalyScoreGraph.ExportRowGraph(weights, new AnomalyRowGraphNames("Features", "ScoreVector", "Errors"), definition, OnnxModelMetadata.Empty));
        for (int i = 0; i < Rows; i++)
        {
            var row = Enumerable.Range(0, weights.InputDim).Select(j => x[i, j]).ToArray();
            using var results = rowSession.Run([NamedOnnxValue.CreateFromTensor("Features", new DenseTensor<float>(row, [weights.InputDim]))]);
            float rowScore = results.Single(r => r.Name == "ScoreVector").AsTensor<float>().Single();
            Assert.True(Close(batchScores[i], rowScore, 1e-5), $"row {i}: batch {batchScores[i]}, row graph {rowScore}");
            var rowErrors = results.Single(r => r.Name == "Errors").AsTensor<float>().ToArray();
            for (int j = 0; j < weights.InputDim; j++)
                Assert.True(Close(batchErrors[i, j], rowErrors[j], 1e-5), $"row {i} feature {j}");
        }
    }

    [Theory]
    [MemberData(nameof(Cases))]
    public void EachScoreIsItsDefinition(VaeAnomalyScoreKind kind, bool standardized, VaeAnomalyLikelihood likelihood)
    {
        var weights = OnnxTestModels.RandomWeights(seed: 6, standardized);
        var definition = Definition(kind, likelihood);
        var x = OnnxTestModels.RandomFeatures(weights, Rows, seed: 10);
        var noise = definition.NoiseTable(weights.LatentDim);

        var (scores, errors) = RunBatch(AnomalyScoreGraph.ExportBatchGraph(weights, definition, true, true), x);
        var (scoresOnly, _) = RunBatch(AnomalyScoreGraph.ExportBatchGraph(weights, definition, true, false), x);
        var (_, errorsOnly) = RunBatch(AnomalyScoreGraph.ExportBatchGraph(weights, definition, false, true), x);
        for (int i = 0; i < Rows; i++)
        {
            var row = Enumerable.Range(0, weights.InputDim).Select(j => x[i, j]).ToArray();
            double expected = ExpectedScore(weights, definition, noise, row);
            Assert.True(Close(expected, scores[i], 1e-4), $"row {i}: {kind} {scores[i]}, expected {expected}");
            Assert.Equal(scores[i], scoresOnly[i]);

            var (mu, _) = ReferenceVae.Encode(weights, row);
            var reconstruction = ReferenceVae.Decode(weights, mu);
            for (int j = 0; j < weights.InputDim; j++)
            {
                double e = Math.Pow(row[j] - reconstruction[j], 2);
                Assert.True(Close(e, errors[i, j], 1e-4), $"row {i} feature {j}: {errors[i, j]}, expected {e}");
                Assert.Equal(errors[i, j], errorsOnly[i, j]);
            }
        }
    }

    /// <summary>The score from its definition, in double precision, from the reference forward pass.</summary>
    private static double ExpectedScore(VaeWeights w, AnomalyScoreDefinition d, float[] noise, float[] x)
    {
        var (mu, logVar) = ReferenceVae.Encode(w, x);
        var clamped = logVar.Select(v => Math.Min(v, d.LogVarianceLimit)).ToArray();
        if (d.Kind == VaeAnomalyScoreKind.ReconstructionError)
            return MeanSquare(x, ReferenceVae.Decode(w, mu), null);

        double sum = 0;
        for (int s = 0; s < d.Samples; s++)
        {
            var z = mu.Select((m, k) => m + Math.Exp(0.5 * clamped[k]) * noise[s * w.LatentDim + k]).ToArray();
            var decoded = ReferenceVae.Decode(w, z);
            sum += d.Kind == VaeAnomalyScoreKind.NegativeElbo
                ? ElboReconstruction(x, decoded, w.Standardization?.Scale, d.Likelihood) // a sum, in the training scale
                : MeanSquare(x, decoded, null);
        }
        double score = sum / d.Samples;
        if (d.Kind == VaeAnomalyScoreKind.NegativeElbo)
            score += d.Beta * -0.5 * mu.Select((m, k) => 1 + clamped[k] - m * m - Math.Exp(clamped[k])).Sum();
        return score;
    }

    /// <summary>Σ over features of r² (Gaussian) or 1.5 · ln(1 + 2r²/3) (Student-t, ν = 2), r = (x − y) / scale.</summary>
    private static double ElboReconstruction(float[] x, double[] y, float[]? scale, VaeAnomalyLikelihood likelihood) =>
        SquaredResiduals(x, y, scale).Sum(r2 => likelihood == VaeAnomalyLikelihood.Gaussian ? r2 : 1.5 * Math.Log(1 + 2 * r2 / 3));

    private static double MeanSquare(float[] x, double[] y, float[]? scale) => SquaredResiduals(x, y, scale).Average();

    private static IEnumerable<double> SquaredResiduals(float[] x, double[] y, float[]? scale) =>
        x.Select((v, j) => Math.Pow((v - y[j]) / (scale?[j] ?? 1), 2));

    private static (float[] Scores, float[,] Errors) RunBatch(byte[] graph, float[,] x)
    {
        int rows = x.GetLength(0), dim = x.GetLength(1);
        using var session = new InferenceSession(graph);
        var flat = new float[rows * dim];
        Buffer.BlockCopy(x, 0, flat, 0, flat.Length * sizeof(float));
        using var results = session.Run([NamedOnnxValue.CreateFromTensor(AnomalyScoreGraph.BatchInput, new DenseTensor<float>(flat, [rows, dim]))]);
        var scores = results.SingleOrDefault(r => r.Name == AnomalyScoreGraph.BatchScore)?.AsTensor<float>().ToArray() ?? new float[rows];
        var errors = new float[rows, dim];
        if (results.SingleOrDefault(r => r.Name == AnomalyScoreGraph.BatchPerFeatureError) is { } e)
        {
            var tensor = e.AsTensor<float>();
            Assert.Equal([rows, dim], tensor.Dimensions.ToArray());
            for (int i = 0; i < rows; i++)
                for (int j = 0; j < dim; j++)
                    errors[i, j] = tensor[i, j];
        }
        return (scores, errors);
    }

    private static bool Close(double expected, double actual, double relative) =>
        Math.Abs(expected - actual) <= relative * Math.Max(1, Math.Abs(expected));
}
