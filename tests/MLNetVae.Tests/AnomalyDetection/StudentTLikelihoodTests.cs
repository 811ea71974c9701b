using Microsoft.ML;
using MLNetVae.Tests.TestSupport;
using MLNetVae.Training;
using static TorchSharp.torch;

namespace MLNetVae.Tests.AnomalyDetection;

/// <summary>
/// <see cref="VaeAnomalyOptions.Likelihood"/> = <see cref="VaeAnomalyLikelihood.StudentT"/>: the loss term, training with
/// it, and a saved detector that keeps it. The score graph's term is checked against its definition in
/// <c>AnomalyScoreGraphTests</c>, far-out rows in <c>FarOutRowTests</c>.
/// </summary>
public sealed class StudentTLikelihoodTests : IDisposable
{
    private readonly string folder = Directory.CreateTempSubdirectory("mlnetvae-student-").FullName;

    public void Dispose() => Directory.Delete(folder, recursive: true);

    [Fact]
    public void TheStudentTermIsTheSquaredErrorAtTheCentreAndLogarithmicInTheTails()
    {
        using var scope = NewDisposeScope();
        float[] residuals = [0.001f, 0.01f, 0.5f, 1f, 3f, 100f, 1e4f];
        var x = zeros(1, residuals.Length);
        var reconstruction = tensor(residuals, new long[] { 1, residuals.Length });
        using var student = new TrainingScalars(beta: 1, logVarLimit: 20, VaeAnomalyLikelihood.StudentT);
        using var gaussian = new TrainingScalars(beta: 1, logVarLimit: 20);

        var terms = VaeLoss.ReconstructionTerms(reconstruction, x, student).data<float>().ToArray();
        var squares = VaeLoss.ReconstructionTerms(reconstruction, x, gaussian).data<float>().ToArray();
        for (int j = 0; j < residuals.Length; j++)
        {
            double r2 = (double)residuals[j] * residuals[j];
            Assert.Equal(1.5 * Math.Log(1 + 2 * r2 / 3), terms[j], 1e-5 * Math.Max(1, terms[j]));
            Assert.Equal(r2, squares[j], 1e-5 * Math.Max(1, r2));
            if (j > 0)
                Assert.True(terms[j] > terms[j - 1], $"the term must rise with |r|: {terms[j]} at {residuals[j]}, {terms[j - 1]} before");
        }
        Assert.Equal(squares[1], terms[1], 1e-3 * squares[1]);   // r = 0.01: r² to first order
        Assert.True(terms[^1] < 30, $"r = 1e4 adds {terms[^1]}, not 1e8"); // logarithmic: 1.5 · ln(6.7e7) ≈ 27

        // The batch loss sums the same terms as the per-row loss the trimmed step and the validation use.
        var mu = zeros(1, 2);
        var logVar = zeros(1, 2);
        var (loss, rec, _) = VaeLoss.Compute(reconstruction, x, mu, logVar, student);
        Assert.Equal(terms.Sum(t => (double)t), rec.item<float>(), 1e-5 * rec.item<float>());
        Assert.Equal(loss.item<float>(), VaeLoss.PerRow(reconstruction, x, mu, logVar, student).sum().item<float>(), 1e-5f * loss.item<float>());
    }

    [Fact]
    public void TheDetectorTrainsWithItAndASavedDetectorKeepsIt()
    {
        var ml = new MLContext(seed: 1);
        var data = ml.Data.Cache(TestData.LoadLabelledCsv(ml, TestData.NewsEmbeddingsCsv));
        VaeAnomalyOptions Options(VaeAnomalyLikelihood likelihood) => new()
        {
            HiddenDim = 32, LatentDim = 4, Epochs = 3, NumberOfThreads = 1, Seed = 2, Likelihood = likelihood,
        };
        using var gaussian = ml.AnomalyDetection.Trainers.VariationalAutoencoder(Options(VaeAnomalyLikelihood.Gaussian)).Fit(data);
        using var student = ml.AnomalyDetection.Trainers.VariationalAutoencoder(Options(VaeAnomalyLikelihood.StudentT)).Fit(data);

        // Same seed, data and sizes: only the loss differs. Each row's Student-t term is at most its squared error
        // (ln(1 + u) ≤ u), so the first epoch's loss, from the same initial weights, is lower.
        Assert.True(student.Vae.TrainingReport!.Epochs[0].TrainLoss < gaussian.Vae.TrainingReport!.Epochs[0].TrainLoss,
            $"Student-t epoch 1 loss {student.Vae.TrainingReport.Epochs[0].TrainLoss}, Gaussian {gaussian.Vae.TrainingReport.Epochs[0].TrainLoss}");
        var studentScores = TestData.ReadScalars(student.Transform(data), "Score");
        Assert.All(studentScores, s => Assert.True(float.IsFinite(s), $"score {s}"));
        Assert.NotEqual(TestData.ReadScalars(gaussian.Transform(data), "Score"), studentScores);

        string path = Path.Combine(folder, "student.zip");
        ml.Model.Save(student, data.Schema, path);
        using var loaded = Assert.IsType<VaeAnomalyTransformer>(new MLContext(seed: 9).Model.LoadWithFastVae(path, out _));
        Assert.Equal(VaeAnomalyLikelihood.StudentT, loaded.Options.Likelihood);
        Assert.Equal(studentScores, TestData.ReadScalars(loaded.Transform(data), "Score"));
    }

    [Fact]
    public void AnUndefinedLikelihoodIsRefusedNamingTheOption()
    {
        var options = new VaeAnomalyOptions { Likelihood = (VaeAnomalyLikelihood)7 };
        var ex = Assert.Throws<ArgumentOutOfRangeException>(options.Validate);
        Assert.Equal(nameof(VaeAnomalyOptions.Likelihood), ex.ParamName);
        Assert.Contains("VaeAnomalyOptions.Likelihood is 7; it must be one of Gaussian, StudentT", ex.Message);
    }
}
