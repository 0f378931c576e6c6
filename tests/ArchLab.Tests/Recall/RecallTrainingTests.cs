using ArchLab.Models;
using ArchLab.Recall;
using ArchLab.Tests.TestSupport;
using TorchSharp;
using static TorchSharp.torch;

namespace ArchLab.Tests.Recall;

public class RecallTrainingTests
{
    [Theory]
    [InlineData("transformer", false)]
    [InlineData("transformer", true)]
    [InlineData("rwkv4", false)]
    [InlineData("hybrid", false)]
    [InlineData("hybrid", true)]
    public void QueryLogitsEqualTheFullForwardAtTheScoredPositions(string arch, bool positionEmbedding)
    {
        torch.manual_seed(1);
        using var model = new LanguageModel(RecallModels.Create(arch, width: 32, layers: 2, vocabSize: 64, seqLen: 32, headDim: 16, positionEmbedding: positionEmbedding));
        if (positionEmbedding) using (no_grad()) model.pos_embed!.weight!.normal_(0, 1); // large enough to matter if left out
        var data = RecallDataset.Create(new MqarTask(64, 32, 4), 3, 1, seed: 1);
        var (x, y) = RecallDataset.ToTensors(data.Train);
        using var _ = no_grad();
        var (logits, targets) = QueryLogits.Compute(model, x, y);
        var full = model.forward(x).flatten(0, 1);
        var flatY = y.flatten();
        var where = flatY.ne(RecallExample.Ignore).nonzero().squeeze(1);
        Assert.Equal(12, where.shape[0]);
        TensorAssert.Close(full.index_select(0, where), logits, 1e-5, arch);
        Assert.Equal(flatY.index_select(0, where).data<long>().ToArray(), targets.data<long>().ToArray());
    }

    /// <summary>Scores one random position whose target is the token there: learnable in a few steps only if the
    /// scored logits and targets line up (a shifted or unmasked loss stays near chance, 1/8).</summary>
    sealed class EchoOnePositionTask : IRecallTask
    {
        public string Name => "echo";
        public int VocabSize => 8;
        public int SeqLen => 8;
        public RecallExample Generate(Random rng)
        {
            var inputs = Enumerable.Range(0, 8).Select(_ => rng.Next(8)).ToArray();
            var targets = Enumerable.Repeat(RecallExample.Ignore, 8).ToArray();
            int at = rng.Next(8);
            targets[at] = inputs[at];
            return new RecallExample(inputs, targets);
        }
    }

    [Fact]
    public void TrainerLearnsFromTheScoredPositionsAndStopsEarly()
    {
        var data = RecallDataset.Create(new EchoOnePositionTask(), 256, 64, seed: 1);
        torch.manual_seed(1);
        // untied: a tied head with no MLP echoes the current token before any training
        using var model = new LanguageModel(RecallModels.Create("transformer", width: 16, layers: 1, vocabSize: 8, seqLen: 8, headDim: 8, tiedEmbeddings: false));
        var before = RecallTraining.Evaluate(model, data.Validation, 64);
        var result = RecallTraining.Train(model, data, new RecallTrainConfig
        {
            Steps = 300, BatchSize = 32, LearningRate = 1e-2, WarmupSteps = 5, StopAtTrainAccuracy = 0.99, StopWindow = 5,
        });
        Assert.Equal(64, result.Scored);
        Assert.True(before.Accuracy < 0.4, $"untrained accuracy {before.Accuracy}");
        Assert.True(result.Accuracy > 0.95, $"trained accuracy {result.Accuracy}");
        Assert.True(result.StepsRun < 300, "never stopped early");
    }

    [Fact]
    public void QueryLossIsTheCrossEntropyAtTheScoredPositionsOnly()
    {
        torch.manual_seed(2);
        using var model = new LanguageModel(RecallModels.Create("transformer", width: 32, layers: 1, vocabSize: 64, seqLen: 32, headDim: 16, tiedEmbeddings: false));
        var data = RecallDataset.Create(new MqarTask(64, 32, 4), 3, 1, seed: 2);
        var (x, y) = RecallDataset.ToTensors(data.Train);
        var loss = new QueryLoss();
        using var _ = no_grad();
        var perPosition = loss.PerPosition(model, x, y);
        Assert.Equal([12L], perPosition.shape); // 3 examples × 4 queries
        float masked = nn.functional.cross_entropy(model.forward(x).flatten(0, 1), y.flatten(), ignore_index: RecallExample.Ignore).item<float>();
        float all = nn.functional.cross_entropy(model.forward(x).flatten(0, 1), y.flatten().clamp_min(0)).item<float>();
        Assert.Equal(masked, perPosition.mean().item<float>(), 5);
        Assert.NotEqual(all, perPosition.mean().item<float>(), 3);
        Assert.Equal(12, loss.TakeTrainingCounts().Scored); // the model is in training mode
        Assert.Equal((0L, 0L), loss.TakeTrainingCounts());
        model.eval();
        loss.PerPosition(model, x, y);
        Assert.Equal((0L, 0L), loss.TakeTrainingCounts()); // evaluation batches are not counted
    }

    /// <summary>A recall run is a <see cref="ArchLab.Training.Trainer"/> run: its folder holds the train config (AdamW's
    /// betas as recall always had them, no checkpoints) and the metrics, whose validation loss is the result's.</summary>
    [Fact]
    public void ARecallRunKeepsTheTrainersRunFolder()
    {
        string dir = Path.Combine(Path.GetTempPath(), "archlab-recall-run-" + Guid.NewGuid().ToString("N"));
        try
        {
            var data = RecallDataset.Create(new MqarTask(32, 16, 2), 32, 40, seed: 1);
            torch.manual_seed(1);
            using var model = new LanguageModel(RecallModels.Create("transformer", width: 16, layers: 1, vocabSize: 32, seqLen: 16, headDim: 8));
            var result = RecallTraining.Train(model, data, new RecallTrainConfig { Steps = 6, BatchSize = 8, WarmupSteps = 1, LogEvery = 3, EvalBatchSize = 16 },
                                              runDir: dir);
            Assert.Equal(6, result.StepsRun);
            Assert.Equal(80, result.Scored);
            var train = ArchLab.Training.TrainConfig.FromJson(File.ReadAllText(Path.Combine(dir, "train_config.json")), "train_config.json");
            Assert.Equal(0.999, train.Beta2);
            Assert.Equal(0, train.CheckpointEvery);
            Assert.False(Directory.Exists(Path.Combine(dir, "checkpoints")));
            var records = new ArchLab.Training.MetricsLog(Path.Combine(dir, "metrics.jsonl")).Read();
            Assert.Equal([3L, 6L], records.Where(r => r["loss"] is not null).Select(r => r["step"]!.GetValue<long>()));
            var validation = Assert.Single(records, r => r["val_loss"] is not null);
            Assert.Equal(result.Loss, validation["val_loss"]!.GetValue<double>(), 4);
            Assert.Null(validation["val_bpb"]);
        }
        finally { if (Directory.Exists(dir)) Directory.Delete(dir, true); }
    }
}
