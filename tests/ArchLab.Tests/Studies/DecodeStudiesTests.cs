using ArchLab.Tests.TestSupport;
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
    public void DecodeComparisonTimesBothEnginesAtEachPosition(string arch)
    {
        torch.manual_seed(1);
        // dim 64: rows long enough for int8's groups of 32 (columns past the last whole group are kept as float32)
        using var model = new LanguageModel(new ModelConfig { Arch = arch, VocabSize = 30, Dim = 64, Layers = 2, Heads = 2 });
        var cases = new List<DecodeCase>();
        foreach (int position in new[] { 40, 10 })
        {
            cases.Add(new DecodeCase("torch", ArchLab.Engine.WeightFormat.Float32, 1, arch, model, 2, position));
            cases.Add(new DecodeCase("lean", ArchLab.Engine.WeightFormat.Float32, 2, arch, model, 2, position));
            cases.Add(new DecodeCase("lean", ArchLab.Engine.WeightFormat.Int8, 1, arch, model, 2, position));
        }
        var results = DecodeComparison.Measure(cases, rounds: 2, stepsPerRound: 2, warmup: 1);
        Assert.Equal(cases, results.Select(r => r.Case));
        foreach (var r in results)
        {
            Assert.Equal(model.StateBytes(2, r.Case.Position), r.StateBytes);
            Assert.True(r.MedianMs > 0 && r.P10Ms <= r.MedianMs && r.MedianMs <= r.P90Ms, $"{r.Case}: {r.P10Ms} {r.MedianMs} {r.P90Ms}");
            Assert.Equal(2 * 1000 / r.MedianMs, r.TokensPerSecond, 6);
            Assert.True(r.CopyBytesPerSecond > 1e8 && r.ReadBytesPerSecond > 1e8);
            Assert.True(r.WeightsReadBytesPerSecond > 1e7, $"{r.Case}: weights read at {r.WeightsReadBytesPerSecond} B/s"); // ~100 KB: hand-offs weigh
            Assert.Equal(r.WeightBytesPerToken * 2 * 1000 / r.MedianMs / r.CopyBytesPerSecond, r.FractionOfBandwidth, 6);
            Assert.Equal(r.WeightBytesPerToken * 2 * 1000 / r.MedianMs / r.WeightsReadBytesPerSecond, r.FractionOfWeightsRead, 6);
            if (r.Case.Engine == "torch") Assert.True(r.TensorsPerStep > 10, "a TorchSharp step dispatches tensor ops");
            else Assert.Equal(0, r.TensorsPerStep);
        }
        // int8 weights (and their scales) read about a quarter of float32's bytes
        double fp32 = results.First(r => r.Case.Engine == "lean" && r.Case.Weights == ArchLab.Engine.WeightFormat.Float32).WeightBytesPerToken;
        double int8 = results.First(r => r.Case.Weights == ArchLab.Engine.WeightFormat.Int8).WeightBytesPerToken;
        Assert.InRange(int8 / fp32, 0.25, 0.35);
        if (arch == "transformer") Assert.Equal(4 * results[^1].StateBytes, results[0].StateBytes);
        else Assert.Equal(results[^1].StateBytes, results[0].StateBytes);
    }

    [Fact]
    public void ResidentReadMeasuresABufferOfTheGivenSizeOnEveryThread()
    {
        using var pool = new ArchLab.Engine.WorkerPool(2);
        var bandwidth = new ArchLab.Engine.CopyBandwidth(pool);
        // A kilobyte is over before the hand-off to the second thread is: its figure is that overhead, only positive.
        double tiny = bandwidth.ReadResident(1000);
        Assert.True(tiny > 0 && double.IsFinite(tiny), $"1000 bytes: {tiny}");
        // Loose floors (10 ms for 300 KB, 30 ms for 3 MB; the test host may be busy with other tests) and a ceiling no
        // cache reaches (a pass that skipped its buffer would report an absurd rate).
        foreach (long bytes in new long[] { 300_000, 3 << 20 })
        {
            double rate = bandwidth.ReadResident(bytes);
            Assert.InRange(rate, 3e7 * (bytes > 1 << 20 ? 3 : 1), 5e12);
        }
        Assert.Throws<ArgumentOutOfRangeException>(() => bandwidth.ReadResident(0));
    }

    [FactWhenFileExists("/proc/self/status")]
    public void ProcessMemoryReadsThisProcess()
    {
        long current = ProcessMemory.CurrentBytes(), peak = ProcessMemory.PeakBytes();
        Assert.True(current > 1 << 20, $"VmRSS {current}");
        Assert.True(peak >= current, $"VmHWM {peak} < VmRSS {current}");
        using var big = ones(64L << 20, dtype: ScalarType.Int8); // touch 64 MiB
        Assert.True(ProcessMemory.PeakBytes() >= current + (60L << 20));
    }

    [FactWhenFileExists("/proc/self/clear_refs")]
    public void PeakGrowthCountsWhatTheActionTouched()
    {
        long? growth = ProcessMemory.PeakGrowthBytes(() => { using var big = ones(64L << 20, dtype: ScalarType.Int8); });
        Assert.NotNull(growth);
        Assert.True(growth >= 60L << 20, $"peak grew by {growth} bytes while 64 MiB were touched");
    }
}
