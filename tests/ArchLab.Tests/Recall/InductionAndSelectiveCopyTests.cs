using ArchLab.Recall;

namespace ArchLab.Tests.Recall;

public class InductionAndSelectiveCopyTests
{
    [Fact]
    public void InductionEndsWithTheTriggerAndAsksForTheTokenThatFollowedItsFirstOccurrence()
    {
        var task = new InductionTask(vocabSize: 16, seqLen: 64);
        var rng = new Random(1);
        for (int n = 0; n < 300; n++)
        {
            var e = task.Generate(rng);
            Assert.Equal(63, Assert.Single(e.ScoredPositions));
            Assert.Equal(task.Trigger, e.Inputs[63]);
            var triggers = Enumerable.Range(0, 64).Where(t => e.Inputs[t] == task.Trigger).ToList();
            Assert.Equal(2, triggers.Count);
            Assert.True(triggers[0] + 1 < 63);
            Assert.Equal(e.Inputs[triggers[0] + 1], e.Targets[63]);
            Assert.InRange(e.Targets[63], 0, 14);
        }
    }

    [Fact]
    public void SelectiveCopyAsksForTheDataTokensInOrderAtTheMarkers()
    {
        var task = new SelectiveCopyTask(vocabSize: 10, seqLen: 48, tokens: 8);
        var rng = new Random(2);
        for (int n = 0; n < 300; n++)
        {
            var e = task.Generate(rng);
            var data = e.Inputs.Take(40).Where(t => t != SelectiveCopyTask.Noise).ToArray();
            Assert.Equal(8, data.Length);
            Assert.All(data, t => Assert.InRange(t, 1, 8));
            Assert.All(e.Inputs.Skip(40), t => Assert.Equal(task.Marker, t));
            Assert.Equal(Enumerable.Range(40, 8), e.ScoredPositions);
            Assert.Equal(data, e.Targets.Skip(40));
            Assert.All(e.Targets.Take(40), t => Assert.Equal(RecallExample.Ignore, t));
        }
    }

    [Fact]
    public void SameSeedSameExamples()
    {
        IRecallTask[] tasks = [new InductionTask(16, 64), new SelectiveCopyTask(10, 48, 8)];
        foreach (var task in tasks)
        {
            var a = Enumerable.Range(0, 10).Select(_ => task.Generate(new Random(3))).ToList();
            var r1 = new Random(4); var r2 = new Random(4);
            var b = Enumerable.Range(0, 10).Select(_ => task.Generate(r1).ContentHash()).ToList();
            var c = Enumerable.Range(0, 10).Select(_ => task.Generate(r2).ContentHash()).ToList();
            Assert.Equal(b, c);
            Assert.True(b.Distinct().Count() > 5);
        }
    }
}
