using System.Diagnostics;
using ArchLab.Models;
using ArchLab.Tests.TestSupport;
using ArchLab.Training;
using static TorchSharp.torch;

namespace ArchLab.Tests.Training;

/// <summary>The logged tokens/s is the optimizer steps' own rate: checkpoints and evaluations between two logs neither
/// count as training time nor shorten the interval the tokens are divided by.</summary>
public class TrainerThroughputTests
{
    /// <summary>Batches that take 20 ms to load, so that every step takes about as long as the others.</summary>
    sealed class SlowData(ITrainingData inner) : ITrainingData
    {
        public (Tensor X, Tensor Y) TrainBatch(long step, int microStep)
        {
            Thread.Sleep(20);
            return inner.TrainBatch(step, microStep);
        }

        public IEnumerable<(Tensor X, Tensor Y)> ValidationBatches(int maxBatches) => inner.ValidationBatches(maxBatches);
        public double ValidationTokensPerByte => inner.ValidationTokensPerByte;
    }

    [Fact]
    public void LoggedRateCoversEveryStepSinceTheLastLogAndNothingElse()
    {
        const int logEvery = 4, steps = 12, batch = 2, seqLen = 16;
        var model = new ModelConfig { VocabSize = 32, Dim = 32, Layers = 1, Heads = 2, ContextLength = seqLen };
        var config = new TrainConfig
        {
            Steps = steps, BatchSize = batch, SeqLen = seqLen, CheckpointEvery = 1, EvalEvery = steps, EvalBatches = 1,
            LogEvery = logEvery, WarmupSteps = 2,
        };
        string run = Path.Combine(Path.GetTempPath(), "archlab-throughput-" + Guid.NewGuid().ToString("N"));
        try
        {
            var trainer = Trainer.Start(model, config, new SlowData(new RandomTrainingData(32, batch, seqLen)), run, CPU);
            var clock = Stopwatch.StartNew();
            var stepEnded = new Dictionary<long, double>();       // after step s (StepFinished comes straight after it)
            var checkpointEnded = new Dictionary<long, double>(); // after step s's checkpoint and its slow handler
            var logged = new List<StepMetrics>();
            trainer.StepFinished += r => stepEnded[r.Step] = clock.Elapsed.TotalSeconds;
            trainer.CheckpointSaved += _ =>
            {
                Thread.Sleep(30); // a slow checkpoint: it must not count, nor restart the interval
                checkpointEnded[trainer.State.Step] = clock.Elapsed.TotalSeconds;
            };
            trainer.StepLogged += logged.Add;
            trainer.Run();

            Assert.Equal(steps / logEvery, logged.Count);
            foreach (var m in logged.Skip(1)) // the first interval holds the first step's one-off costs
            {
                // Step s ran between the end of step s − 1's checkpoint and the end of step s, with only a few lines of
                // bookkeeping beside it: the steps' own rate is at least, and very nearly, tokens / those gaps.
                double gaps = 0;
                for (long s = m.Step - logEvery + 1; s <= m.Step; s++) gaps += stepEnded[s] - checkpointEnded[s - 1];
                double floor = logEvery * batch * seqLen / gaps;
                Assert.True(m.TokensPerSecond >= 0.95 * floor,
                    $"step {m.Step}: {m.TokensPerSecond:F0} tok/s logged, but the steps alone ran at {floor:F0} tok/s or faster");
                Assert.True(m.TokensPerSecond <= 1.3 * floor,
                    $"step {m.Step}: {m.TokensPerSecond:F0} tok/s logged, far above the {floor:F0} tok/s of the {logEvery} steps since the last log");
            }
        }
        finally { if (Directory.Exists(run)) Directory.Delete(run, true); }
    }
}
