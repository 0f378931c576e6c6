using ArchLab.Models;
using ArchLab.Recall;
using TorchSharp;

namespace ArchLab.Tests.Recall;

/// <summary>A notebook's interrupt (a cancelled token) stops the recall trainer at its next step.</summary>
public class RecallCancellationTests
{
    [Fact]
    public void CancellingStopsTrainingAtTheNextStep()
    {
        var data = RecallDataset.Create(new MqarTask(64, 32, 4), 64, 8, seed: 1);
        torch.manual_seed(1);
        using var model = new LanguageModel(RecallModels.Create("transformer", width: 16, layers: 1, vocabSize: 64, seqLen: 32, headDim: 8));
        using var interrupt = new CancellationTokenSource();
        var logged = new List<string>();
        var config = new RecallTrainConfig { Steps = 50, WarmupSteps = 1, BatchSize = 4, LogEvery = 1, StopAtTrainAccuracy = 0 };
        Assert.Throws<OperationCanceledException>(() => RecallTraining.Train(model, data, config, line =>
        {
            logged.Add(line);
            if (logged.Count == 3) interrupt.Cancel(); // tripped during step 3: step 4 never starts
        }, interrupt.Token));
        Assert.Equal(3, logged.Count);
        Assert.StartsWith("step      3/50", logged[^1]);
    }

    [Fact]
    public void ACancelledStudyTrainsNothing()
    {
        var options = new RecallStudyOptions
        {
            Task = "mqar", Archs = ["transformer"], Widths = [16], SeqLens = [32], KvPairs = [4], VocabSize = 64,
            TrainExamples = 16, ValidationExamples = 4, Train = new RecallTrainConfig { Steps = 5, WarmupSteps = 1, BatchSize = 4 },
        };
        var finished = new List<RecallRow>();
        Assert.Throws<OperationCanceledException>(() => RecallStudy.Run(options, finished.Add, cancel: new CancellationToken(canceled: true)));
        Assert.Empty(finished);
    }
}
