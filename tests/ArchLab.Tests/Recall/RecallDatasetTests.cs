using ArchLab.Recall;

namespace ArchLab.Tests.Recall;

public class RecallDatasetTests
{
    [Fact]
    public void TrainingAndValidationNeverShareAnExample()
    {
        // a task with few distinct examples (4 ordinary tokens, length 4: 3·4³ = 192 sequences), so collisions are certain
        var task = new InductionTask(vocabSize: 5, seqLen: 4);
        var data = RecallDataset.Create(task, trainExamples: 100, validationExamples: 40, seed: 1);
        Assert.Equal(100, data.Train.Count);
        Assert.Equal(40, data.Validation.Count);
        var train = data.Train.Select(e => e.ContentHash()).ToHashSet();
        Assert.DoesNotContain(data.Validation, e => train.Contains(e.ContentHash()));
        Assert.True(data.DroppedFromValidation > 0, "the check never had to drop anything: it was not exercised");
    }

    [Fact]
    public void SeedFixesTheDataAndTheStreamsDiffer()
    {
        var task = new MqarTask(256, 64, 4);
        var a = RecallDataset.Create(task, 50, 20, seed: 3);
        var b = RecallDataset.Create(task, 50, 20, seed: 3);
        var c = RecallDataset.Create(task, 50, 20, seed: 4);
        Assert.Equal(a.Train.Select(e => e.ContentHash()), b.Train.Select(e => e.ContentHash()));
        Assert.Equal(a.Validation.Select(e => e.ContentHash()), b.Validation.Select(e => e.ContentHash()));
        Assert.NotEqual(a.Train[0].ContentHash(), c.Train[0].ContentHash());
        Assert.NotEqual(a.Train[0].ContentHash(), a.Validation[0].ContentHash()); // validation is not the training stream
        Assert.Equal(0, a.DroppedFromValidation);
    }

    [Fact]
    public void BatchesWalkEpochsOfAPermutation()
    {
        var data = RecallDataset.Create(new MqarTask(256, 64, 4), 10, 5, seed: 1);
        var epoch0 = Enumerable.Range(0, 5).SelectMany(s => data.TrainIndices(s, 2)).ToList();
        var epoch1 = Enumerable.Range(5, 5).SelectMany(s => data.TrainIndices(s, 2)).ToList();
        Assert.Equal(Enumerable.Range(0, 10), epoch0.Order());
        Assert.Equal(Enumerable.Range(0, 10), epoch1.Order());
        Assert.NotEqual(epoch0, epoch1);
        Assert.Equal(data.TrainIndices(7, 2), data.TrainIndices(7, 2));
    }

    [Fact]
    public void TensorsHoldInputsAndTargets()
    {
        var data = RecallDataset.Create(new MqarTask(256, 64, 4), 3, 2, seed: 1);
        var (x, y) = RecallDataset.ToTensors(data.Train);
        Assert.Equal(new long[] { 3, 64 }, x.shape);
        Assert.Equal(data.Train[2].Inputs.Select(i => (long)i), x[2].data<long>().ToArray());
        Assert.Equal(data.Train[1].Targets.Select(i => (long)i), y[1].data<long>().ToArray());
    }
}
