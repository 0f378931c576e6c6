using ArchLab.Training;

namespace ArchLab.Tests.Training;

public class LearningRateScheduleTests
{
    [Fact]
    public void WarmsUpLinearlyThenDecaysByCosineToTheFloorAtTheLastStep()
    {
        const int total = 111, warmup = 10; // 100 decay steps after warmup
        double At(long s) => LearningRateSchedule.At(s, total, peak: 1.0, warmupSteps: warmup, minRatio: 0.1);
        Assert.Equal(0.1, At(0), 12);
        Assert.Equal(1.0, At(warmup - 1), 12);
        Assert.Equal(1.0, At(warmup), 12);
        Assert.Equal(0.55, At(warmup + 50), 12); // halfway through the decay: (1 + 0.1) / 2
        Assert.Equal(0.1, At(total - 1), 12);
        for (long s = warmup; s < total - 1; s++) Assert.True(At(s + 1) <= At(s));
    }
}
