using ArchLab.Models;
using ArchLab.Tests.TestSupport;
using ArchLab.Training;
using TorchSharp;
using static TorchSharp.torch;

namespace ArchLab.Tests.Training;

/// <summary>The trainer's pluggable loss (<see cref="ITrainingLoss"/>) is what it steps on and what it evaluates, and a
/// caller's stopping rule ends a run early with a final evaluation.</summary>
public class TrainerLossTests
{
    /// <summary>Scores only the first position of every row: far from the mean over all positions, so a trainer that
    /// ignored it would be caught.</summary>
    sealed class FirstPositionLoss : ITrainingLoss
    {
        public Tensor PerPosition(LanguageModel model, Tensor inputs, Tensor targets) =>
            nn.functional.cross_entropy(model.forward(inputs)[.., 0], targets[.., 0], reduction: nn.Reduction.None);
    }

    static readonly ModelConfig Tiny = new() { VocabSize = 32, Dim = 32, Layers = 1, Heads = 2, ContextLength = 16 };

    static string NewRunDir() => Path.Combine(Path.GetTempPath(), "archlab-loss-" + Guid.NewGuid().ToString("N"));

    [Fact]
    public void TheTrainerStepsAndEvaluatesOnTheGivenLoss()
    {
        string run = NewRunDir();
        try
        {
            var data = new RandomTrainingData(32, 4, 16, seedOffset: 7);
            var config = new TrainConfig { Steps = 2, BatchSize = 4, SeqLen = 16, EvalEvery = 2, EvalBatches = 2, LogEvery = 1, WarmupSteps = 1, CheckpointEvery = 0 };
            var trainer = Trainer.Start(Tiny, config, data, run, CPU, new FirstPositionLoss());
            double expectedFirst, allPositions;
            using (no_grad())
            {
                var (x, y) = data.TrainBatch(0, 0);
                var logits = trainer.Model.forward(x);
                expectedFirst = nn.functional.cross_entropy(logits[.., 0], y[.., 0]).item<float>();
                allPositions = nn.functional.cross_entropy(logits.flatten(0, 1), y.flatten()).item<float>();
            }
            var losses = new List<double>();
            trainer.StepFinished += s => losses.Add(s.Loss);
            var result = trainer.Run();
            Assert.Equal(expectedFirst, losses[0], 5);
            Assert.NotEqual(allPositions, losses[0], 3);

            // the final evaluation: the same loss over the validation batches' first positions (2 batches × 4 rows)
            Assert.Equal(8, result.Tokens);
            using (no_grad())
            {
                trainer.Model.eval();
                double sum = data.ValidationBatches(2).Sum(b =>
                    nn.functional.cross_entropy(trainer.Model.forward(b.X)[.., 0], b.Y[.., 0], reduction: nn.Reduction.Sum).item<float>());
                Assert.Equal(sum / 8, result.Loss, 5);
            }
            Assert.False(Directory.Exists(Path.Combine(run, "checkpoints")), "checkpoint_every 0 writes none");
            trainer.Model.Dispose();
        }
        finally { if (Directory.Exists(run)) Directory.Delete(run, true); }
    }

    [Fact]
    public void TheDefaultLossIsNextTokenCrossEntropyAtEveryPosition()
    {
        torch.manual_seed(4);
        using var model = new LanguageModel(Tiny);
        var (x, y) = new RandomTrainingData(32, 3, 16, seedOffset: 7).TrainBatch(0, 0);
        using var _ = no_grad();
        var perPosition = NextTokenLoss.Instance.PerPosition(model, x, y);
        Assert.Equal([48L], perPosition.shape);
        Assert.Equal(nn.functional.cross_entropy(model.forward(x).flatten(0, 1), y.flatten()).item<float>(), perPosition.mean().item<float>(), 5);
    }

    [Fact]
    public void StopAfterThisStepEndsTheRunThereWithAnEvaluation()
    {
        string run = NewRunDir();
        try
        {
            var config = new TrainConfig { Steps = 50, BatchSize = 2, SeqLen = 16, EvalEvery = 50, EvalBatches = 1, LogEvery = 10, WarmupSteps = 1, CheckpointEvery = 50 };
            var trainer = Trainer.Start(Tiny, config, new RandomTrainingData(32, 2, 16, seedOffset: 7), run, CPU);
            var evaluatedAt = new List<long>();
            trainer.Evaluated += (step, _) => evaluatedAt.Add(step);
            trainer.StepFinished += s => { if (s.Step == 4) trainer.StopAfterThisStep(); };
            trainer.Run();
            Assert.Equal(4, trainer.State.Step);
            Assert.Equal([4L], evaluatedAt);
            Assert.EndsWith("step_000004", TrainingCheckpoint.Latest(run));
            trainer.Model.Dispose();
        }
        finally { if (Directory.Exists(run)) Directory.Delete(run, true); }
    }
}
