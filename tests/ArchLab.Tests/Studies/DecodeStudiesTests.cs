using ArchLab.Mixers;
using ArchLab.Models;
using ArchLab.Studies;
using ArchLab.Training;
using TorchSharp;
using static TorchSharp.torch;

namespace ArchLab.Tests.Studies;

public class DecodeStudiesTests
{
    sealed class FixedValidation(Tensor x, Tensor y) : ITrainingData
    {
        public (Tensor X, Tensor Y) TrainBatch(long step, int microStep) => throw new NotSupportedException();
        public IEnumerable<(Tensor X, Tensor Y)> ValidationBatches(int maxBatches)
        {
            yield return (x.narrow(0, 0, 2), y.narrow(0, 0, 2));
            yield return (x.narrow(0, 2, 1), y.narrow(0, 2, 1));
        }
        public double ValidationTokensPerByte => 0.5;
    }

    [Fact]
    public void PositionBucketsAverageToTheWholeValidationLoss()
    {
        torch.manual_seed(2);
        using var model = new LanguageModel(new ModelConfig { VocabSize = 30, Dim = 16, Layers = 1, Heads = 2, ContextLength = 8 });
        using var ids = randint(0, 30, [3, 21]);
        var data = new FixedValidation(ids.narrow(1, 0, 20), ids.narrow(1, 1, 20));
        var buckets = PositionLoss.Evaluate(model, data, int.MaxValue, bucket: 8, CPU);
        Assert.Equal([(0, 8), (8, 16), (16, 20)], buckets.Select(b => (b.Start, b.End)));
        Assert.Equal([24L, 24L, 12L], buckets.Select(b => b.Tokens));
        var whole = Evaluator.Evaluate(model, data, int.MaxValue, CPU);
        Assert.Equal(whole.Loss, buckets.Sum(b => b.Loss * b.Tokens) / buckets.Sum(b => b.Tokens), 5);
        Assert.Equal(whole.BitsPerByte, buckets.Sum(b => b.BitsPerByte * b.Tokens) / buckets.Sum(b => b.Tokens), 5);
        // the last bucket alone: positions 16…19 of every window, computed directly
        using var logits = model.forward(ids.narrow(1, 0, 20));
        using var perToken = nn.functional.cross_entropy(logits.flatten(0, 1), ids.narrow(1, 1, 20).flatten(), reduction: nn.Reduction.None).view(3, 20);
        Assert.Equal(perToken.narrow(1, 16, 4).mean().item<float>(), buckets[2].Loss, 4);
    }

    [Theory]
    [InlineData("transformer")]
    [InlineData("mamba")]
    public void DecodeBenchmarkReachesEachPositionWithTheStateItNeeds(string arch)
    {
        torch.manual_seed(1);
        using var model = new LanguageModel(new ModelConfig { Arch = arch, VocabSize = 30, Dim = 16, Layers = 2, Heads = 2 });
        var machine = new MachineFigures(1.5, 1e10, 1e10);
        var points = DecodeBenchmark.Measure([(arch, model, [40L, 10L])], rounds: 2, stepsPerRound: 2, warmup: 1, machine, chunk: 16);
        Assert.Equal([10L, 40L], points.Select(p => p.Position));
        foreach (var p in points)
        {
            Assert.Equal(model.StateBytes(1, p.Position), p.StateBytesAnalytic);
            // a KV cache holds position + warm-up + timed steps; a recurrent state does not depend on the position
            long expected = arch == "transformer" ? model.StateBytes(1, p.Position + 1 + 2 * 2) : model.StateBytes(1, 0);
            Assert.Equal(expected, p.StateBytesAllocated);
            Assert.True(p.MsPerToken > 0 && p.EstimatedCMs > 0);
        }
        if (arch == "transformer") Assert.Equal(4 * points[0].StateBytesAnalytic, points[1].StateBytesAnalytic);
        else Assert.Equal(points[0].StateBytesAnalytic, points[1].StateBytesAnalytic);
    }

    [Fact]
    public void ProcessMemoryReadsThisProcess()
    {
        if (!File.Exists("/proc/self/status")) return;
        long current = ProcessMemory.CurrentBytes(), peak = ProcessMemory.PeakBytes();
        Assert.True(current > 1 << 20, $"VmRSS {current}");
        Assert.True(peak >= current, $"VmHWM {peak} < VmRSS {current}");
        using var big = ones(64L << 20, dtype: ScalarType.Int8); // touch 64 MiB
        Assert.True(ProcessMemory.PeakBytes() >= current + (60L << 20));
    }

    [Fact]
    public void PeakGrowthCountsWhatTheActionTouched()
    {
        if (!File.Exists("/proc/self/clear_refs")) return;
        long? growth = ProcessMemory.PeakGrowthBytes(() => { using var big = ones(64L << 20, dtype: ScalarType.Int8); });
        Assert.NotNull(growth);
        Assert.True(growth >= 60L << 20, $"peak grew by {growth} bytes while 64 MiB were touched");
    }

    [Fact]
    public void DecodeCostCountsTheKvCacheOnlyForAttention()
    {
        torch.manual_seed(1);
        using var attention = new LanguageModel(new ModelConfig { VocabSize = 30, Dim = 16, Layers = 2, Heads = 2 });
        var (f0, b0) = DecodeBenchmark.CostPerToken(attention, 0);
        var (f1, b1) = DecodeBenchmark.CostPerToken(attention, 100);
        long weights = attention.NonEmbeddingParameters + 30 * 16;
        Assert.Equal(2.0 * weights, f0);
        Assert.Equal(4.0 * weights, b0);
        Assert.Equal(attention.StateBytes(1, 100), b1 - b0); // the cache is read once
        Assert.Equal(2.0 * attention.StateBytes(1, 100) / 4, f1 - f0);
    }
}
