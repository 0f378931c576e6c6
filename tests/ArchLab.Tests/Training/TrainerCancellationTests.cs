using ArchLab.Models;
using ArchLab.Tests.TestSupport;
using ArchLab.Training;
using static TorchSharp.torch;

namespace ArchLab.Tests.Training;

/// <summary>A notebook's interrupt (a cancelled token) stops the trainer at its next step, with the steps so far kept.</summary>
public class TrainerCancellationTests
{
    [Fact]
    public void CancellingDuringAStepStopsBeforeTheNext()
    {
        var model = new ModelConfig { VocabSize = 32, Dim = 32, Layers = 1, Heads = 2, ContextLength = 16 };
        var config = new TrainConfig { Steps = 40, BatchSize = 2, SeqLen = 16, CheckpointEvery = 40, EvalEvery = 40, EvalBatches = 1, LogEvery = 1, WarmupSteps = 2 };
        string run = Path.Combine(Path.GetTempPath(), "archlab-cancel-" + Guid.NewGuid().ToString("N"));
        try
        {
            var trainer = Trainer.Start(model, config, new RandomTrainingData(32, 2, 16), run, CPU);
            using var interrupt = new CancellationTokenSource();
            trainer.StepLogged += m => { if (m.Step == 3) interrupt.Cancel(); };
            Assert.ThrowsAny<OperationCanceledException>(() => trainer.Run(interrupt.Token));
            Assert.Equal(3, trainer.State.Step);
        }
        finally { if (Directory.Exists(run)) Directory.Delete(run, true); }
    }
}
