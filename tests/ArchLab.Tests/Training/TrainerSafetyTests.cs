using ArchLab.Checkpoints;
using ArchLab.Models;
using ArchLab.Tests.TestSupport;
using ArchLab.Training;
using TorchSharp;
using static TorchSharp.torch;

namespace ArchLab.Tests.Training;

/// <summary>Divergence stops the run without touching the last good checkpoint; damaged checkpoints are refused by name.</summary>
public class TrainerSafetyTests
{
    /// <summary>Random token batches: enough to drive the trainer without a corpus.</summary>
    static readonly ModelConfig Tiny = new() { VocabSize = 32, Dim = 32, Layers = 1, Heads = 2, ContextLength = 16 };
    static readonly TrainConfig Short = new() { Steps = 12, BatchSize = 2, SeqLen = 16, CheckpointEvery = 4, EvalEvery = 4, EvalBatches = 1, LogEvery = 1, WarmupSteps = 2 };

    static string NewRunDir() => Path.Combine(Path.GetTempPath(), "archlab-safety-" + Guid.NewGuid().ToString("N"));

    /// <summary>A gradient too large for float32 stops the run by name, before clipping by an infinite norm writes NaN into
    /// every weight (the loss itself is still finite here: the head is scaled by 1e30).</summary>
    [Fact]
    public void AnInfiniteGradientNormStopsTheRunWithoutSaving()
    {
        string run = NewRunDir();
        var trainer = Trainer.Start(Tiny, Short, new RandomTrainingData(32, 2, 16), run, CPU);
        using (no_grad()) trainer.Model.head!.weight.mul_(1e30);
        var e = Assert.Throws<TrainingDivergedException>(() => trainer.Run());
        Assert.Contains("non-finite gradient norm", e.Message);
        Assert.Contains("at step 1", e.Message);
        Assert.Null(TrainingCheckpoint.Latest(run));
        trainer.Model.Dispose();
        Directory.Delete(run, recursive: true);
    }

    /// <summary>Without clipping no gradient norm is computed: the metrics log says null (it failed writing NaN as JSON).</summary>
    [Fact]
    public void WithoutClippingTheLogHasNoGradientNorm()
    {
        string run = NewRunDir();
        var trainer = Trainer.Start(Tiny, Short with { Steps = 2, GradClip = 0 }, new RandomTrainingData(32, 2, 16), run, CPU);
        trainer.Run();
        trainer.Model.Dispose();
        Assert.Contains("\"grad_norm\":null", File.ReadAllText(Path.Combine(run, "metrics.jsonl")));
        Directory.Delete(run, recursive: true);
    }

    [Fact]
    public void ResumeRemovesStalePartialCheckpoints()
    {
        string run = NewRunDir();
        var trainer = Trainer.Start(Tiny, Short with { Steps = 4 }, new RandomTrainingData(32, 2, 16), run, CPU);
        trainer.Run();
        trainer.Model.Dispose();
        string root = Path.Combine(run, "checkpoints");
        // What a kill -9 during a checkpoint write leaves: a half-written folder (and one being replaced).
        string partial = Path.Combine(root, $".step_000008.partial-{Guid.NewGuid():N}");
        string old = Path.Combine(root, $"step_000004.old-{Guid.NewGuid():N}");
        foreach (var dir in new[] { partial, old })
        {
            Directory.CreateDirectory(dir);
            File.WriteAllBytes(Path.Combine(dir, "model.safetensors"), new byte[1000]);
        }

        var resumed = Trainer.Resume(run, new RandomTrainingData(32, 2, 16), CPU);
        Assert.False(Directory.Exists(partial));
        Assert.False(Directory.Exists(old));
        Assert.EndsWith("step_000004", TrainingCheckpoint.Latest(run));
        Assert.Equal(4, resumed.State.Step);
        resumed.Model.Dispose();
        Directory.Delete(run, recursive: true);
    }

    [Fact]
    public void NonFiniteLossStopsWithoutOverwritingTheLastCheckpoint()
    {
        string run = NewRunDir();
        var trainer = Trainer.Start(Tiny, Short, new RandomTrainingData(32, 2, 16), run, CPU);
        trainer.StepLogged += m =>
        {
            if (m.Step == 5) using (no_grad()) trainer.Model.embed.weight!.fill_(double.NaN);
        };
        var e = Assert.Throws<TrainingDivergedException>(() => trainer.Run());
        Assert.Contains("step 6", e.Message);
        Assert.Contains("step_000004", e.Message);

        string latest = TrainingCheckpoint.Latest(run)!;
        Assert.EndsWith("step_000004", latest);
        var (model, _, state) = TrainingCheckpoint.Load(latest);
        Assert.Equal(4, state.Step);
        Assert.False(model.embed.weight!.isnan().any().item<bool>());
        Directory.Delete(run, recursive: true);
    }

    [Theory]
    [InlineData("model.safetensors", "truncate")]
    [InlineData("model.safetensors", "flip")]
    [InlineData("optimizer.bin", "truncate")]
    [InlineData("trainer_state.json", "delete")]
    public void DamagedCheckpointIsRefusedNamingTheFile(string file, string damage)
    {
        string run = NewRunDir();
        Trainer.Start(Tiny, Short with { Steps = 4 }, new RandomTrainingData(32, 2, 16), run, CPU).Run();
        string path = Path.Combine(TrainingCheckpoint.Latest(run)!, file);
        switch (damage)
        {
            case "truncate": File.WriteAllBytes(path, File.ReadAllBytes(path)[..^7]); break;
            case "flip": var bytes = File.ReadAllBytes(path); bytes[^3] ^= 0x40; File.WriteAllBytes(path, bytes); break;
            case "delete": File.Delete(path); break;
        }
        var e = Assert.Throws<CheckpointException>(() => Trainer.Resume(run, new RandomTrainingData(32, 2, 16), CPU));
        Assert.Contains(file, e.Message);
        Directory.Delete(run, recursive: true);
    }

    [Fact]
    public void StartingOverAnExistingRunIsRefused()
    {
        string run = NewRunDir();
        Trainer.Start(Tiny, Short with { Steps = 4 }, new RandomTrainingData(32, 2, 16), run, CPU).Run();
        Assert.Throws<InvalidOperationException>(() => Trainer.Start(Tiny, Short, new RandomTrainingData(32, 2, 16), run, CPU));
        Directory.Delete(run, recursive: true);
    }

    [Fact]
    public void Bf16TrainingStaysCloseToFloat32AndKeepsFloat32Weights()
    {
        double Loss(bool bf16)
        {
            string run = NewRunDir();
            var trainer = Trainer.Start(Tiny, Short with { Steps = 6, Bf16 = bf16 }, new RandomTrainingData(32, 2, 16), run, CPU);
            var result = trainer.Run();
            Assert.All(trainer.Model.parameters(), p => Assert.Equal(ScalarType.Float32, p.dtype));
            Directory.Delete(run, recursive: true);
            return result.Loss;
        }
        double fp32 = Loss(false), bf16 = Loss(true);
        Assert.NotEqual(fp32, bf16); // bf16 really changed the arithmetic
        Assert.InRange(Math.Abs(fp32 - bf16), 0, 0.05);
    }
}
