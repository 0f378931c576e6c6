using ArchLab.Models;
using ArchLab.Recall;
using ArchLab.Tests.TestSupport;
using TorchSharp;
using static TorchSharp.torch;

namespace ArchLab.Tests.Recall;

public class RecallTrainerTests
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
        var before = RecallTrainer.Evaluate(model, data.Validation, 64);
        var result = RecallTrainer.Train(model, data, new RecallTrainConfig
        {
            Steps = 300, BatchSize = 32, LearningRate = 1e-2, WarmupSteps = 5, StopAtTrainAccuracy = 0.99, StopWindow = 5,
        });
        Assert.Equal(64, result.Scored);
        Assert.True(before.Accuracy < 0.4, $"untrained accuracy {before.Accuracy}");
        Assert.True(result.Accuracy > 0.95, $"trained accuracy {result.Accuracy}");
        Assert.True(result.StepsRun < 300, "never stopped early");
    }
}
