using System.Collections.Concurrent;
using Microsoft.ML;
using Microsoft.ML.Data;
using MLNetVae.Tests.TestSupport;
using Xunit.Abstractions;

namespace MLNetVae.Tests.Reliability;

/// <summary>
/// Eight threads scoring through one transformer: Transform with a cursor per thread, a PredictionEngine per thread
/// (ML.NET's rule: an engine is not thread-safe) and a shared pool of engines (what Microsoft.Extensions.ML's
/// PredictionEnginePool does; that package is not on this project's registry, so a small pool stands in). Results
/// must equal one thread's, bit for bit, and disposing the transformer (which every ML.NET engine does when it is
/// disposed) must never break the threads still scoring.
/// </summary>
[Collection(ReliabilityCollection.Name)]
public class ConcurrencyTests(NewsModel news, ITestOutputHelper output)
{
    private const int Threads = 8;

    /// <summary>2,500 rows (three scoring blocks): the real embeddings and perturbed copies.</summary>
    private float[][] ManyRows()
    {
        var random = new Random(11);
        return Enumerable.Range(0, 2500)
            .Select(i => news.Rows[i % news.Rows.Length].Select(v => v + (i < news.Rows.Length ? 0f : (float)(random.NextDouble() - 0.5) * 0.05f)).ToArray())
            .ToArray();
    }

    private static (float[][] Mu, float[] Error) Score(IDataView scored, Action? afterFirstRow = null)
    {
        var mu = new List<float[]>();
        var error = new List<float>();
        using var cursor = scored.GetRowCursor(new[] { scored.Schema["Mu"], scored.Schema["ReconstructionError"] });
        var muGetter = cursor.GetGetter<VBuffer<float>>(scored.Schema["Mu"]);
        var errorGetter = cursor.GetGetter<float>(scored.Schema["ReconstructionError"]);
        var buffer = default(VBuffer<float>);
        float value = 0;
        while (cursor.MoveNext())
        {
            muGetter(ref buffer);
            errorGetter(ref value);
            mu.Add(buffer.DenseValues().ToArray());
            error.Add(value);
            if (mu.Count == 1) afterFirstRow?.Invoke();
        }
        return (mu.ToArray(), error.ToArray());
    }

    private static void RunOnThreads(int count, Action<int> work)
    {
        using var start = new Barrier(count);
        var failures = new ConcurrentQueue<Exception>();
        var threads = Enumerable.Range(0, count).Select(t => new Thread(() =>
        {
            try
            {
                start.SignalAndWait();
                work(t);
            }
            catch (Exception e)
            {
                failures.Enqueue(e);
            }
        })).ToList();
        threads.ForEach(t => t.Start());
        threads.ForEach(t => t.Join());
        if (!failures.IsEmpty)
            throw new AggregateException(failures);
    }

    [Fact]
    public void EightThreadsTransformingThroughOneTransformerGetWhatOneThreadGets()
    {
        var data = TestData.FromArrays(news.Ml, ManyRows());
        var expected = Score(news.Model.Transform(data));
        var results = new (float[][] Mu, float[] Error)[Threads, 3];
        RunOnThreads(Threads, t =>
        {
            for (int pass = 0; pass < 3; pass++)
                results[t, pass] = Score(news.Model.Transform(data));
        });
        foreach (var result in results)
        {
            Assert.Equal(expected.Error, result.Error);
            Assert.Equal(expected.Mu, result.Mu);
        }
    }

    [Fact]
    public void EightThreadsWithTheirOwnPredictionEngineGetWhatOneThreadGetsWhileOthersDisposeTheirs()
    {
        // Engines are created with ML.NET's defaults, so each one disposes the shared transformer when it is disposed,
        // while the others are still predicting. Before scorer leases this freed the ONNX Runtime sessions under the
        // other engines ("output name cannot be empty", or a crash of the process).
        var rows = ManyRows();
        var expected = new NewsScore[400];
        using (var single = news.Ml.Model.CreatePredictionEngine<NewsInput, NewsScore>(news.Model, new PredictionEngineOptions { OwnsTransformer = false }))
            for (int i = 0; i < expected.Length; i++)
                expected[i] = single.Predict(new NewsInput { Features = rows[i] });

        RunOnThreads(Threads, t =>
        {
            for (int round = 0; round < 2; round++)
            {
                using var engine = news.Ml.Model.CreatePredictionEngine<NewsInput, NewsScore>(news.Model);
                int count = 40 + 45 * t; // threads finish (and dispose) at different times
                for (int i = 0; i < count; i++)
                {
                    int row = (t * 37 + i) % expected.Length;
                    var scored = engine.Predict(new NewsInput { Features = rows[row] });
                    Assert.Equal(expected[row].ReconstructionError, scored.ReconstructionError);
                    Assert.Equal(expected[row].Mu, scored.Mu);
                    Assert.Equal(expected[row].Reconstruction, scored.Reconstruction);
                }
            }
        });
    }

    [Fact]
    public void EightThreadsSharingAPoolOfPredictionEnginesGetWhatOneThreadGets()
    {
        var rows = ManyRows().Take(200).ToArray();
        var expected = Score(news.Model.Transform(TestData.FromArrays(news.Ml, rows))).Error;
        using var pool = new BlockingCollection<PredictionEngine<NewsInput, NewsScore>>();
        for (int i = 0; i < 3; i++)
            pool.Add(news.Ml.Model.CreatePredictionEngine<NewsInput, NewsScore>(news.Model));
        try
        {
            var results = new float[Threads, rows.Length];
            RunOnThreads(Threads, t =>
            {
                for (int i = 0; i < rows.Length; i++)
                {
                    var engine = pool.Take();
                    try
                    {
                        results[t, i] = engine.Predict(new NewsInput { Features = rows[i] }).ReconstructionError;
                    }
                    finally
                    {
                        pool.Add(engine);
                    }
                }
            });
            // One row per call vs a block of 200: equal up to float32 summation order.
            for (int t = 0; t < Threads; t++)
                for (int i = 0; i < rows.Length; i++)
                    Assert.True(Math.Abs(results[t, i] - expected[i]) <= 1e-5f * Math.Max(1, expected[i]), $"thread {t} row {i}: {results[t, i]} vs {expected[i]}");
        }
        finally
        {
            while (pool.TryTake(out var engine))
                engine.Dispose();
        }
    }

    [Fact]
    public void DisposingTheTransformerWhileCursorsAreReadingBreaksNothing()
    {
        var data = TestData.FromArrays(news.Ml, ManyRows());
        var expected = Score(news.Model.Transform(data));

        // One cursor, disposed under it after its first block (before: the next block crashed the test host).
        var once = Score(news.Model.Transform(data), afterFirstRow: news.Model.Dispose);
        Assert.Equal(expected.Error, once.Error);

        // Four readers while another thread keeps disposing the transformer.
        using var stop = new CancellationTokenSource();
        int disposals = 0;
        var disposer = new Thread(() =>
        {
            while (!stop.IsCancellationRequested)
            {
                news.Model.Dispose();
                disposals++;
                Thread.Sleep(1);
            }
        });
        disposer.Start();
        try
        {
            RunOnThreads(4, _ =>
            {
                for (int pass = 0; pass < 3; pass++)
                    Assert.Equal(expected.Error, Score(news.Model.Transform(data)).Error);
            });
        }
        finally
        {
            stop.Cancel();
            disposer.Join();
        }
        output.WriteLine($"{disposals} disposals while reading");
        Assert.True(disposals > 0);
    }

    [Fact]
    public void DisposingTheAnomalyDetectorWhileCursorsAreReadingBreaksNothing()
    {
        var data = TestData.FromArrays(news.Ml, ManyRows());
        using var detector = news.Ml.AnomalyDetection.Trainers.VariationalAutoencoder(new VaeAnomalyOptions
        {
            HiddenDim = 32, LatentDim = 4, Epochs = 2, BatchSize = 64, NumberOfThreads = 1, Seed = 3, MonteCarloSamples = 2,
        }).Fit(TestData.FromArrays(news.Ml, news.Rows));
        float[] Scores(Action? afterFirstRow = null)
        {
            var scored = detector.Transform(data);
            var scores = new List<float>();
            using var cursor = scored.GetRowCursor(new[] { scored.Schema["Score"] });
            var getter = cursor.GetGetter<float>(scored.Schema["Score"]);
            float value = 0;
            while (cursor.MoveNext())
            {
                getter(ref value);
                scores.Add(value);
                if (scores.Count == 1) afterFirstRow?.Invoke();
            }
            return scores.ToArray();
        }
        var expected = Scores();
        Assert.True(expected.All(float.IsFinite));

        // Disposed under a cursor after its first block: the next blocks still score (the scorer is leased per block).
        Assert.Equal(expected, Scores(afterFirstRow: detector.Dispose));

        using var stop = new CancellationTokenSource();
        int disposals = 0;
        var disposer = new Thread(() =>
        {
            while (!stop.IsCancellationRequested)
            {
                detector.Dispose();
                disposals++;
                Thread.Sleep(1);
            }
        });
        disposer.Start();
        try
        {
            RunOnThreads(3, _ => Assert.Equal(expected, Scores()));
        }
        finally
        {
            stop.Cancel();
            disposer.Join();
        }
        output.WriteLine($"{disposals} disposals while reading");
        Assert.True(disposals > 0);
    }
}
