using ArchLab.Models;
using ArchLab.Studies;

namespace ArchLab.Tests.Studies;

public class TrainingThroughputTests
{
    [Fact]
    public void ReportsItsPartsRoundsAndWorkConsistently()
    {
        var config = new ModelConfig { Arch = "transformer", VocabSize = 64, Dim = 32, Layers = 2, Heads = 2, ContextLength = 16 }.Validate();
        var report = TrainingThroughput.Measure(config, batchSize: 2, seqLen: 16, rounds: 2, stepsPerRound: 2);
        using var model = new LanguageModel(config);
        Assert.Equal(model.TotalParameters, report.Parameters);
        Assert.Equal(model.TrainingFlopsPerToken(16), report.FlopsPerToken);
        Assert.Equal(["float32", "bf16 matmuls"], report.Rows.Select(r => r.Precision));
        foreach (var r in report.Rows)
        {
            Assert.Equal(4, r.Steps);
            Assert.Equal(2 * 16 / r.SecondsPerStep, r.TokensPerSecond, 6);
            double parts = r.ForwardSeconds + r.BackwardSeconds + r.OptimizerSeconds;
            Assert.True(r.ForwardSeconds > 0 && r.BackwardSeconds > 0 && r.OptimizerSeconds > 0);
            Assert.InRange(parts, 0.5 * r.SecondsPerStep, r.SecondsPerStep);  // the rest is the dispose scope and the loop
            Assert.InRange(r.TokensPerSecond, r.SlowestRoundTokensPerSecond * 0.999, r.FastestRoundTokensPerSecond * 1.001);
            Assert.Equal(r.TokensPerSecond * report.FlopsPerToken / 1e9, report.Gflops(r), 9);
        }
    }
}
