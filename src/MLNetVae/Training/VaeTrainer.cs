using System.Diagnostics;
using MLNetVae.Data;
using MLNetVae.Model;
using TorchSharp;
using static TorchSharp.torch;

namespace MLNetVae.Training;

/// <summary>The training loop: mini-batch Adam on the VAE loss (VaeLoss), validation, early stopping, safeguards.</summary>
internal sealed class VaeTrainer
{
    private readonly VaeOptions options;
    private readonly int seed;
    private readonly Device device;
    private readonly Action<string> log;

    public VaeTrainer(VaeOptions options, int seed, Device device, Action<string> log)
    {
        this.options = options;
        this.seed = seed;
        this.device = device;
        this.log = log;
    }

    public sealed record Result(VaeWeights Weights, VaeTrainingReport Report);

    /// <summary>Held by every training that sets the process-wide libtorch thread count (see <see cref="Train(TrainingRows, Random)"/>).</summary>
    private static readonly SemaphoreSlim ThreadSettingGate = new(1, 1);

    private static int defaultThreadsCapped;

    /// <summary>
    /// Once per process, before the first training that leaves <c>NumberOfThreads</c> to TorchSharp: libtorch's default
    /// comes from the CPUs the process may be scheduled on, which a container's CPU quota (<c>--cpus</c>, a Kubernetes
    /// limit) does not shrink, so on a 64-core host a 2-CPU container would train with dozens of threads that share two
    /// CPUs' time. <see cref="Environment.ProcessorCount"/> counts the quota, so the default is capped at it (never raised);
    /// <c>OMP_NUM_THREADS</c> set by the application is left as it is.
    /// </summary>
    private static void CapDefaultThreadsAtProcessorCount(CancellationToken cancellation)
    {
        if (Volatile.Read(ref defaultThreadsCapped) == 1)
            return;
        ThreadSettingGate.Wait(cancellation);
        try
        {
            if (defaultThreadsCapped == 1)
                return;
            if (Environment.GetEnvironmentVariable("OMP_NUM_THREADS") is null && get_num_threads() > Environment.ProcessorCount)
                set_num_threads(Environment.ProcessorCount);
            Volatile.Write(ref defaultThreadsCapped, 1);
        }
        finally
        {
            ThreadSettingGate.Release();
        }
    }

    /// <summary>
    /// Rows per forward pass when evaluating (validation loss, latent statistics). A block's intermediates live until
    /// the block ends, about 22 KB a row at 768/512/256: 4,096-row blocks raised Fit's peak memory by ~90 MiB, 1,024-row
    /// blocks by a quarter of that, at the same speed (the GEMMs are as efficient). Past 4,096 features fewer rows, as
    /// scoring's blocks (<see cref="Scoring.BlockScoring.BlockRowsFor"/>): the buffer stays near 16 MB at any width.
    /// </summary>
    private static int EvaluationBlockRows(int columns) => Scoring.BlockScoring.BlockRowsFor(columns);

    /// <summary>
    /// Most training rows the latent diagnostics look at. Variances and mean KLs are settled long before this many
    /// rows, and a full encoder pass over a million rows would add a fifth of an epoch to Fit.
    /// </summary>
    internal const int LatentStatisticsMaxRows = 16_384;

    /// <summary>
    /// Training was cancelled. <see cref="Partial"/> holds the weights <c>Fit</c> would have kept after the last completed
    /// epoch (and the report up to it), or null when no epoch completed. The estimator turns it into the public
    /// <see cref="VaeTrainingCancelledException"/>.
    /// </summary>
    public sealed class CancelledException(Result? partial, OperationCanceledException inner)
        : OperationCanceledException(inner.Message, inner, inner.CancellationToken)
    {
        public Result? Partial { get; } = partial;
    }

    /// <summary>Trains on <paramref name="data"/>, held in memory, which it standardizes in place when the options say so.</summary>
    public Result Train(FeatureMatrix data)
    {
        Native.LibTorchSharpLoader.EnsureLoadable();
        var random = new Random(seed);
        // The split draws from the run's generator before the weights do (the order every earlier version used).
        return Train(new InMemoryTrainingRows(data, options, random), random);
    }

    /// <summary>Trains on rows read from their data view in every pass (<see cref="StreamingTrainingRows"/>).</summary>
    public Result Train(StreamingTrainingRows rows)
    {
        Native.LibTorchSharpLoader.EnsureLoadable();
        return Train(rows, new Random(seed));
    }

    private Result Train(TrainingRows rows, Random random)
    {
        var cancellation = options.CancellationToken;

        // libtorch's intra-op thread count is one setting for the whole process: two Fits that each set their own would
        // change it under each other (and a run would not get the thread count, nor the bit-identical weights, it asked
        // for). Trainings that set NumberOfThreads therefore run one at a time; others run freely.
        bool setsThreads = options.NumberOfThreads is not null;
        if (setsThreads)
            ThreadSettingGate.Wait(cancellation);
        else
            CapDefaultThreadsAtProcessorCount(cancellation);
        try
        {
            int previousThreads = get_num_threads();
            if (options.NumberOfThreads is { } threads)
                set_num_threads(threads);
            try
            {
                return Run(rows, random, cancellation);
            }
            finally
            {
                if (setsThreads)
                    set_num_threads(previousThreads);
                NativeMemory.ReturnFreedMemoryToSystem();
            }
        }
        finally
        {
            if (setsThreads)
                ThreadSettingGate.Release();
        }
    }

    private Result Run(TrainingRows rows, Random random, CancellationToken cancellation)
    {
        var standardization = rows.Standardization;
        double referenceLoss = rows.ReferenceLoss;
        using var run = new TrainingRun(options, rows, random, seed, device);
        // Without validation data the last completed epoch is the one to keep; snapshot it only when a cancellation could
        // ask for it (with validation data the best epoch is snapshotted anyway, but KL warm-up epochs are not validated,
        // so they are snapshotted for a cancellation too).
        bool snapshotForCancellation = cancellation.CanBeCanceled && (!run.Validating || options.KlWarmupEpochs > 0);
        var best = new BestEpoch(run.Network, standardization, snapshotEveryEpoch: snapshotForCancellation, run.Validating);
        var reports = new List<VaeEpochReport>();
        string stopReason = $"completed all {options.Epochs} epochs";
        var clock = Stopwatch.StartNew();
        long stepsSinceCollection = 0;
        bool finalPass = false;
        try
        {
            for (int epoch = 1; epoch <= options.Epochs; epoch++)
            {
                var (report, batches) = TrainAndValidateEpoch(epoch, run, best, referenceLoss, clock, cancellation);
                reports.Add(report);
                log(report.ToString());
                options.Progress?.Report(report);

                // Native memory held by collectable TorchSharp objects and by glibc's arenas goes back now, so RSS stays
                // flat across epochs (see NativeMemory.ReclaimBetweenEpochs).
                stepsSinceCollection += batches;
                if (NativeMemory.ReclaimBetweenEpochs(stepsSinceCollection))
                    stepsSinceCollection = 0;

                if (options.EarlyStoppingPatience > 0 && run.Validating && best.EpochsWithoutImprovement >= options.EarlyStoppingPatience)
                {
                    stopReason = $"early stopping: no validation improvement for {options.EarlyStoppingPatience} epochs";
                    break;
                }
            }
            // Inside the try: the final pass (latent statistics) reads the rows again, and a cancellation there still
            // hands over the model of the epochs completed.
            finalPass = true;
            return FinalResult(best, reports, run, stopReason, standardization);
        }
        catch (OperationCanceledException e) when (cancellation.IsCancellationRequested)
        {
            throw new CancelledException(PartialResult(best, reports, run, finalPass), e);
        }
    }

    /// <summary>One epoch: the mini-batch steps, the validation loss, the safeguards, and whether it is the one to keep.</summary>
    private (VaeEpochReport Report, int Batches) TrainAndValidateEpoch(int epoch, TrainingRun run, BestEpoch best, double referenceLoss,
        Stopwatch clock, CancellationToken cancellation)
    {
        var epochClock = Stopwatch.StartNew();
        double beta = KlWeight(epoch);
        bool warmingUp = epoch <= options.KlWarmupEpochs;
        // A warm-up epoch's smaller β gets Scalars of its own, held for the epoch (see TrainingScalars).
        using var warmupScalars = warmingUp ? new TrainingScalars(beta, options.LogVarianceLimit, options.Likelihood) : null;
        var sums = TrainEpoch(epoch, run.EpochInputs, warmupScalars ?? run.Scalars, cancellation);
        double n = Math.Max(1, sums.Rows); // per row the loss was summed over (all training rows, or the kept ones)

        double? validationLoss = run.Validating ? ValidationLoss(run.Network, run.EvaluationBlocks, run.Rows, run.Scalars, cancellation) : null;
        if (validationLoss is { } v && !double.IsFinite(v))
            throw Diverged(epoch, 0, v, onValidationRows: true);
        CheckNotRunningAway(epoch, sums.Reconstruction / n, beta * sums.Kl / n, sums.Loss / n, referenceLoss, best.ValidatedEpoch);

        bool isBest = best.Observe(epoch, warmingUp, validationLoss);
        var report = new VaeEpochReport(epoch, options.Epochs, sums.Loss / n, sums.Reconstruction / n, sums.Kl / n, validationLoss,
            run.Rows.TrainCount / Math.Max(epochClock.Elapsed.TotalSeconds, 1e-9), clock.Elapsed, isBest, beta);
        return (report, sums.Batches);
    }

    /// <summary>What <c>Fit</c> gets: the kept epoch's weights (refused when not finite), with the latent diagnostics of them.</summary>
    private Result FinalResult(BestEpoch best, List<VaeEpochReport> reports, TrainingRun run, string stopReason, FeatureStandardization? standardization)
    {
        var weights = best.Weights ?? run.Network.Snapshot(standardization);
        if (!weights.AllFinite())
            throw Diverged(best.Epoch, 0, double.NaN);
        if (best.Weights is not null)
            run.Network.Load(best.Weights);
        var latent = LatentStatistics(run.Network, run.EvaluationBlocks, run.Rows, run.Scalars, options.CancellationToken);
        NativeMemory.ReturnFreedMemoryToSystem();
        var report = new VaeTrainingReport(reports, best.Epoch, run.Rows.TrainCount, run.Rows.ValidationCount, stopReason,
            device.ToString(), get_num_threads(), seed, latent);
        return new Result(weights, report);
    }

    /// <summary>The weights <c>Fit</c> would have kept after the last completed epoch, or null when there are none.</summary>
    private Result? PartialResult(BestEpoch best, List<VaeEpochReport> reports, TrainingRun run, bool finalPass)
    {
        if (best.Weights is null || reports.Count == 0 || !best.Weights.AllFinite())
            return null;
        string stopReason = finalPass
            ? $"cancelled after epoch {reports.Count} of {options.Epochs}, during the final pass over the rows (latent diagnostics not computed)"
            : $"cancelled during epoch {reports.Count + 1} of {options.Epochs}";
        var report = new VaeTrainingReport(reports.ToList(), best.Epoch, run.Rows.TrainCount, run.Rows.ValidationCount,
            stopReason, device.ToString(), get_num_threads(), seed);
        return new Result(best.Weights, report);
    }

    /// <summary>
    /// Everything one training run holds for its whole length: the network (initialised from the seed), the batch and
    /// evaluation buffers, Adam, the loss constants and the noise generator.
    /// </summary>
    private sealed class TrainingRun : IDisposable
    {
        public TrainingRun(VaeOptions options, TrainingRows rows, Random random, int seed, Device device)
        {
            int d = rows.Columns;
            int trainRows = rows.TrainCount, validationRows = rows.ValidationCount;
            Rows = rows;
            Random = random;
            Network = new VaeNetwork(d, options.HiddenDim, options.LatentDim);
            Network.to(device);
            Network.Load(WeightInitializer.Create(d, options.HiddenDim, options.LatentDim, random));
            Network.train();
            // One copy of the data (the matrix) plus a batch buffer; see RowBatchLoader for why not a tensor of all rows.
            batches = new RowBatchLoader(Math.Min(options.BatchSize, trainRows), d, device);
            // One buffer for every evaluation pass (validation each epoch, the latent diagnostics at the end).
            EvaluationBlocks = new RowBatchLoader(Math.Min(EvaluationBlockRows(d), Math.Max(trainRows, validationRows)), d, device);
            // Adam and the loss constants hold their TorchSharp Scalars for the whole run (see TrainingScalars for why).
            optimizer = new VaeAdam(Network.parameters(), options.LearningRate);
            Scalars = new TrainingScalars(options.Beta, options.LogVarianceLimit, options.Likelihood);
            noise = new Generator((ulong)seed, device);
            EpochInputs = new EpochInputs(Network, batches, rows, Random, optimizer, noise, Network.parameters().ToArray());
        }

        private readonly RowBatchLoader batches;
        private readonly VaeAdam optimizer;
        private readonly Generator noise;

        public TrainingRows Rows { get; }
        public bool Validating => Rows.ValidationCount > 0;
        public Random Random { get; }
        public VaeNetwork Network { get; }
        public RowBatchLoader EvaluationBlocks { get; }
        public TrainingScalars Scalars { get; }

        public EpochInputs EpochInputs { get; }

        public void Dispose()
        {
            noise.Dispose();
            Scalars.Dispose();
            optimizer.Dispose();
            EvaluationBlocks.Dispose();
            batches.Dispose();
            Network.Dispose();
        }
    }

    /// <summary>
    /// Which epoch's weights <c>Fit</c> keeps: the one with the lowest validation loss, or the last one without validation
    /// data; warm-up epochs (a smaller β, a different objective) are kept only until a later epoch exists and do not
    /// count for patience.
    /// </summary>
    private sealed class BestEpoch(VaeNetwork network, FeatureStandardization? standardization, bool snapshotEveryEpoch, bool validating)
    {
        private double bestValidation = double.PositiveInfinity;

        /// <summary>The kept weights, or null when the network's current weights are the ones to keep.</summary>
        public VaeWeights? Weights { get; private set; }
        public int Epoch { get; private set; }
        public int EpochsWithoutImprovement { get; private set; }

        /// <summary>The epoch with the lowest validation loss so far; 0 before one (no validation rows, or only warm-up epochs).</summary>
        public int ValidatedEpoch => double.IsFinite(bestValidation) ? Epoch : 0;

        /// <summary>Records a completed epoch; true when it is the new best.</summary>
        public bool Observe(int epoch, bool warmingUp, double? validationLoss)
        {
            if (warmingUp)
            {
                Epoch = epoch; // without a later epoch, the last warm-up epoch's weights are what Fit returns
                if (snapshotEveryEpoch)
                    Weights = network.Snapshot(standardization);
                return false;
            }
            if (validationLoss is { } value && !(value < bestValidation))
            {
                EpochsWithoutImprovement++;
                return false;
            }
            bestValidation = validationLoss ?? bestValidation;
            Epoch = epoch;
            EpochsWithoutImprovement = 0;
            // Without validation data the last epoch wins; only snapshot when it can matter.
            if (validating || snapshotEveryEpoch)
                Weights = network.Snapshot(standardization);
            return true;
        }
    }

    /// <summary>What one epoch of mini-batch steps works with (all of it lives for the whole run).</summary>
    private sealed record EpochInputs(VaeNetwork Network, RowBatchLoader Batches, TrainingRows Rows, Random Random,
        VaeAdam Optimizer, Generator Noise, TorchSharp.Modules.Parameter[] Parameters);

    /// <summary>
    /// Summed per-batch losses of an epoch, the number of batches and the rows the sums are over (the training rows, or
    /// those the trimmed loss kept).
    /// </summary>
    private readonly record struct EpochSums(double Loss, double Reconstruction, double Kl, int Batches, long Rows);

    /// <summary>
    /// One pass over the training rows in a new order (drawn from the run's generator): a forward pass, the loss, a backward
    /// pass and an Adam step per batch, each inside a dispose scope. Throws <see cref="VaeTrainingDivergedException"/> at
    /// the first non-finite batch loss.
    /// </summary>
    private EpochSums TrainEpoch(int epoch, EpochInputs inputs, TrainingScalars scalars, CancellationToken cancellation)
    {
        double lossSum = 0, recSum = 0, klSum = 0;
        int batchIndex = 0;
        long keptRows = 0;
        foreach (var block in inputs.Rows.TrainingBatches(options.BatchSize, inputs.Random, cancellation))
        {
            cancellation.ThrowIfCancellationRequested();
            int count = block.Count;
            using var scope = NewDisposeScope();
            var x = block.Load(inputs.Batches);
            var eps = randn(new long[] { count, options.LatentDim }, device: device, generator: inputs.Noise);
            var (reconstruction, mu, logVar) = inputs.Network.Forward(x, eps, scalars);
            int kept = VaeLoss.KeptRows(count, options.TrimmedLossFraction); // every row when the fraction is 0
            var (loss, rec, kl) = kept < count
                ? VaeLoss.ComputeTrimmed(reconstruction, x, mu, logVar, scalars, kept)
                : VaeLoss.Compute(reconstruction, x, mu, logVar, scalars); // the design's loss, bit for bit the reference

            inputs.Optimizer.ZeroGrad();
            loss.backward();
            if (options.GradientClipNormPerRow is > 0 and { } clip)
                nn.utils.clip_grad_norm_(inputs.Parameters, clip * count);
            inputs.Optimizer.Step();

            double lossValue = loss.item<float>();
            if (!double.IsFinite(lossValue))
                throw Diverged(epoch, batchIndex + 1, lossValue);
            lossSum += lossValue;
            recSum += rec.item<float>();
            klSum += kl.item<float>();
            keptRows += kept;
            batchIndex++;
        }
        return new EpochSums(lossSum, recSum, klSum, batchIndex, keptRows);
    }

    /// <summary>β of an epoch: linear from 0 (epoch 1) to <see cref="VaeTrainingOptions.Beta"/> at epoch KlWarmupEpochs + 1.</summary>
    internal double KlWeight(int epoch) =>
        options.KlWarmupEpochs <= 0 ? options.Beta : options.Beta * Math.Min(1.0, (epoch - 1) / (double)options.KlWarmupEpochs);

    /// <summary>
    /// Posterior-collapse diagnostics of the network on the training rows (as <c>latent_stats</c> of the reference):
    /// the population variance over rows of each latent mean, and each dimension's KL to N(0, 1) averaged over rows.
    /// </summary>
    private static VaeTrainingReport.LatentDiagnostics LatentStatistics(VaeNetwork network, RowBatchLoader blocks, TrainingRows trainingRows,
        TrainingScalars scalars, CancellationToken cancellation)
    {
        using var _ = no_grad();
        network.eval();
        long rows = 0;
        int latent = network.LatentDim;
        var sum = new double[latent];
        var sumSquares = new double[latent];
        var kl = new double[latent];
        long overRows = 0; // a variable, not the literal 0, which C# would convert to TorchSharp's ScalarType in sum(...)
        foreach (var block in trainingRows.LatentStatisticsBlocks(EvaluationBlockRows(network.InputDim), LatentStatisticsMaxRows, cancellation))
        {
            using var scope = NewDisposeScope();
            var x = block.Load(blocks);
            rows += block.Count;
            var (mu, logVar) = network.Encode(x);
            // The KL of the loss, logvar guarded as in training (an unguarded exp overflowed to +∞, which the saved
            // report's JSON cannot hold), and the run's Scalars (temporary ones can be freed by a GC while in use).
            var klRows = VaeLoss.KlIntegrand(mu, logVar, scalars).mul(scalars.MinusHalf);
            var muD = mu.to_type(ScalarType.Float64).cpu();
            using var muSum = muD.sum(overRows);
            using var muSquares = muD.pow(scalars.Two).sum(overRows);
            using var klSum = klRows.to_type(ScalarType.Float64).sum(overRows).cpu();
            var s = muSum.data<double>().ToArray();
            var q = muSquares.data<double>().ToArray();
            var k = klSum.data<double>().ToArray();
            for (int j = 0; j < latent; j++)
            {
                sum[j] += s[j];
                sumSquares[j] += q[j];
                kl[j] += k[j];
            }
        }
        network.train();
        var variance = new double[latent];
        for (int j = 0; j < latent; j++)
        {
            double mean = sum[j] / rows;
            variance[j] = Math.Max(0, sumSquares[j] / rows - mean * mean);
            kl[j] /= rows;
        }
        return new VaeTrainingReport.LatentDiagnostics(variance, kl);
    }

    private static double ValidationLoss(VaeNetwork network, RowBatchLoader blocks, TrainingRows trainingRows, TrainingScalars scalars,
        CancellationToken cancellation)
    {
        using var _ = no_grad();
        network.eval();
        double total = 0;
        long rows = 0;
        foreach (var block in trainingRows.ValidationBlocks(EvaluationBlockRows(network.InputDim), cancellation))
        {
            using var scope = NewDisposeScope();
            var x = block.Load(blocks);
            rows += block.Count;
            var (mu, logVar) = network.Encode(x);
            // Per-row losses summed in float64: a 1,024-row block's float32 sum can overflow where every row and every
            // (smaller) training batch is finite.
            var perRow = VaeLoss.PerRow(network.Decode(mu), x, mu, logVar, scalars);
            total += perRow.to_type(ScalarType.Float64).sum().item<double>();
        }
        network.train();
        return total / Math.Max(1, rows);
    }

    /// <summary>At most <paramref name="count"/> of <paramref name="rows"/>, evenly spaced and in order (all of them when fewer).</summary>
    internal static int[] EvenlySpaced(int[] rows, int count)
    {
        if (rows.Length <= count)
            return rows;
        var chosen = new int[count];
        for (int i = 0; i < count; i++)
            chosen[i] = rows[(int)((long)i * rows.Length / count)];
        return chosen;
    }

    /// <summary>Random train/validation split; no validation when it would leave either side empty.</summary>
    internal static (int[] Train, int[] Validation) Split(int rows, double validationFraction, Random random)
    {
        int validation = (int)Math.Floor(rows * validationFraction);
        if (validation == 0 || validation >= rows)
            return (Enumerable.Range(0, rows).ToArray(), Array.Empty<int>());
        var all = Enumerable.Range(0, rows).ToArray();
        random.Shuffle(all);
        var train = all[validation..];
        var held = all[..validation];
        Array.Sort(train);
        Array.Sort(held);
        return (train, held);
    }

    /// <summary>
    /// How many times the loss of reconstructing every row as zero an epoch's mean loss terms may reach before training
    /// counts as run away. A network at initialisation scores about that loss, and a working optimiser only lowers it;
    /// 1,000 times it is far outside anything a healthy run shows, and far below what a runaway run reaches (learning rate
    /// 10: 1.7e12 per row on cardio, 1e8 times the reference).
    /// </summary>
    internal const double RunawayFactor = 1000;

    /// <summary>
    /// Per-row loss of reconstructing every training row as zero, in the training scale (Σ x² per row, averaged), plus one
    /// per feature for the output noise of an untrained network: what the loss is of the order of at initialisation.
    /// </summary>
    internal static double ZeroReconstructionLoss(FeatureMatrix data, int[] rows)
    {
        double total = 0;
        foreach (int r in rows)
            total += System.Numerics.Tensors.TensorPrimitives.SumOfSquares<float>(data.Row(r));
        return total / Math.Max(1, rows.Length) + data.Columns;
    }

    /// <summary>
    /// A loss that stays finite can still run away (a learning rate far too high, a huge β): such a model scores every
    /// row as garbage, so training stops with <see cref="VaeTrainingDivergedException"/> naming the option behind it.
    /// </summary>
    private void CheckNotRunningAway(int epoch, double reconstruction, double weightedKl, double loss, double reference, int bestEpoch)
    {
        double ceiling = RunawayFactor * reference;
        if (!(reconstruction > ceiling || weightedKl > ceiling))
            return;
        string what = $"VAE training ran away: in epoch {epoch} the loss is {loss:G4} per row (reconstruction {reconstruction:G4}, " +
                      $"β·KL {weightedKl:G4}), more than {RunawayFactor:G} times the loss of reconstructing every row as zero " +
                      $"({reference:G4}). No model was returned. ";
        // A β above 1 whose KL term is the larger part is the likelier cause; otherwise the optimiser overshot.
        if (options.Beta > 1 && weightedKl >= reconstruction)
            throw new VaeTrainingDivergedException(epoch, 0, loss, nameof(VaeOptions.Beta), what +
                $"Beta ({options.Beta:G4}) is the most likely cause: a KL weight that large dwarfs the reconstruction term. Use a smaller " +
                $"Beta (the featurizer's default is {VaeOptions.Defaults.Beta}, the anomaly detector's {VaeAnomalyOptions.Defaults.Beta}); " +
                $"if it persists, lower the LearningRate (now {options.LearningRate:G4}).");
        throw new VaeTrainingDivergedException(epoch, 0, loss, nameof(VaeOptions.LearningRate), what +
            $"The LearningRate ({options.LearningRate:G4}) is the most likely cause: try {options.LearningRate / 10:G4}" +
            (options.LearningRate > VaeOptions.Defaults.LearningRate ? $" or the default {VaeOptions.Defaults.LearningRate}" : "") +
            (options.Standardize ? "" : ", and set Standardize = true (now false)") +
            (weightedKl >= reconstruction ? $"; the KL term is the larger part, which a lower LogVarianceLimit (now {options.LogVarianceLimit:G4}) bounds" : "") +
            (options.Beta > 1 ? $"; Beta ({options.Beta:G4}) may add to it." : ".") +
            LateRunawayHint(epoch, bestEpoch, options.EarlyStoppingPatience));
    }

    /// <summary>
    /// When a validated run was healthy for a while before it ran away (seen with long runs at β 0.01 and early stopping
    /// off), the error says which epoch was best and how to stop there; empty when the run ran away at once.
    /// </summary>
    internal static string LateRunawayHint(int epoch, int bestValidationEpoch, int patience) =>
        bestValidationEpoch < 1 || epoch <= 2 ? "" :
        $" Training was healthy before epoch {epoch}, with the best validation loss in epoch {bestValidationEpoch}: " +
        $"Epochs = {bestValidationEpoch}" + (patience == 0 ? " or early stopping (EarlyStoppingPatience > 0, now 0)" : "") +
        " would have ended it before the runaway.";

    private VaeTrainingDivergedException Diverged(int epoch, int batch, double loss, bool onValidationRows = false)
    {
        string where = batch > 0 ? $"epoch {epoch}, batch {batch}" : $"epoch {epoch}";
        string what = onValidationRows ? "the validation loss (the held-out rows; every training batch was finite)" : "the loss";
        return new VaeTrainingDivergedException(epoch, batch, loss, nameof(VaeOptions.LearningRate),
            $"VAE training diverged: {what} became {loss} at {where}. No model was returned. " +
            $"Try a lower LearningRate (now {options.LearningRate}), Standardize = true (now {options.Standardize}), " +
            $"a lower LogVarianceLimit (now {options.LogVarianceLimit}), smaller HiddenDim/LatentDim for few input features, " +
            "or look for extreme values in the input column.");
    }
}
