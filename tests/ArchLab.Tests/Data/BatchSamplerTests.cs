using ArchLab.Data;
using TorchSharp;
using static TorchSharp.torch;

namespace ArchLab.Tests.Data;

public class BatchSamplerTests
{
    // Token i has value i, so a window's content tells where it came from.
    static TokenArray Arange(int n) => new([.. Enumerable.Range(0, n)]);

    static long[,] ToArray(Tensor t)
    {
        Assert.Equal(ScalarType.Int64, t.dtype);
        var data = t.data<long>().ToArray();
        var result = new long[t.shape[0], t.shape[1]];
        Buffer.BlockCopy(data, 0, result, 0, data.Length * sizeof(long));
        return result;
    }

    [Fact]
    public void GetBatch_IsAPureFunctionOfSeedStepAndMicroStep()
    {
        var tokens = Arange(10_000);
        var a = new BatchSampler(tokens, batchSize: 8, seqLen: 16, seed: 42);
        var b = new BatchSampler(tokens, batchSize: 8, seqLen: 16, seed: 42);

        using var scope = NewDisposeScope();
        var later = ToArray(a.GetBatch(7).X);
        var (x5, y5) = a.GetBatch(5);
        Assert.Equal(ToArray(x5), ToArray(b.GetBatch(5).X));   // another sampler, other call order: same batch
        Assert.Equal(ToArray(y5), ToArray(b.GetBatch(5).Y));
        Assert.Equal(later, ToArray(b.GetBatch(7).X));
        Assert.NotEqual(ToArray(x5), later);
        Assert.NotEqual(a.Offsets(5, 0), a.Offsets(5, 1));
        Assert.NotEqual(a.Offsets(5), new BatchSampler(tokens, 8, 16, seed: 43).Offsets(5));
        Assert.Equal(a.Offsets(5), b.Offsets(5));
    }

    [Fact]
    public void GetBatch_YIsXShiftedByOne()
    {
        var sampler = new BatchSampler(Arange(1000), batchSize: 4, seqLen: 32, seed: 1);
        using var scope = NewDisposeScope();
        var (xt, yt) = sampler.GetBatch(3, microStep: 2);
        Assert.Equal([4L, 32L], xt.shape);
        Assert.Equal([4L, 32L], yt.shape);
        var x = ToArray(xt);
        var y = ToArray(yt);
        for (int r = 0; r < 4; r++)
        for (int t = 0; t < 32; t++)
        {
            Assert.Equal(x[r, t] + 1, y[r, t]);
            if (t > 0) Assert.Equal(x[r, t - 1] + 1, x[r, t]); // contiguous window
        }
    }

    [Fact]
    public void Offsets_CoverTheWholeRangeUniformly()
    {
        var sampler = new BatchSampler(Arange(1_017), batchSize: 16, seqLen: 16, seed: 7);
        var offsets = Enumerable.Range(0, 500).SelectMany(step => sampler.Offsets(step)).ToArray();
        Assert.All(offsets, o => Assert.InRange(o, 0, 1_017 - 17));
        Assert.True(offsets.Min() < 10 && offsets.Max() > 990);
        var lowerHalf = offsets.Count(o => o < sampler.StartCount / 2) / (double)offsets.Length;
        Assert.InRange(lowerHalf, 0.45, 0.55);
    }

    [Fact]
    public void EvalBatches_AreSequentialDisjointAndCoverTheSplit()
    {
        var sampler = new BatchSampler(Arange(1_000), batchSize: 4, seqLen: 10, seed: 0);
        Assert.Equal(99, sampler.EvalWindowCount);
        using var scope = NewDisposeScope();
        var batches = sampler.EvalBatches().ToList();
        Assert.Equal(25, batches.Count);
        Assert.Equal(3, batches[^1].X.shape[0]); // 99 windows = 24 × 4 + 3
        var targets = batches.SelectMany(b => ToArray(b.Y).Cast<long>()).ToList();
        Assert.Equal(Enumerable.Range(1, 990).Select(i => (long)i), targets); // every target once, in order

        var limited = sampler.EvalBatches(maxBatches: 2).ToList();
        Assert.Equal(2, limited.Count);
        var starts = limited.SelectMany(b => { var x = ToArray(b.X); return Enumerable.Range(0, 4).Select(r => x[r, 0]); }).ToList();
        Assert.Equal(starts.Order(), starts);
        Assert.All(starts.Zip(starts.Skip(1)), p => Assert.True(p.Second - p.First >= 10)); // no overlap
        Assert.True(starts[^1] > 500, "a limited evaluation still spreads over the split");
    }

    [Fact]
    public void TooShortCorpus_Throws()
    {
        var e = Assert.Throws<ArgumentException>(() => new BatchSampler(Arange(16), batchSize: 1, seqLen: 16, seed: 0));
        Assert.Contains("seqLen + 1", e.Message);
        _ = new BatchSampler(Arange(17), batchSize: 1, seqLen: 16, seed: 0); // exactly enough
    }

    [Fact]
    public void WorksOnMemoryMappedTokenFiles()
    {
        string dir = Directory.CreateTempSubdirectory("archlab-batch-").FullName;
        try
        {
            string path = Path.Combine(dir, "t.tokens");
            TokenFile.Write(path, [.. Enumerable.Range(0, 5_000).Select(i => i % 256)], 256, 5_000);
            using var file = TokenFile.Open(path);
            var fromFile = new BatchSampler(file, 4, 8, seed: 9);
            var fromArray = new BatchSampler(new TokenArray(file.ToArray()), 4, 8, seed: 9);
            using var scope = NewDisposeScope();
            Assert.Equal(ToArray(fromArray.GetBatch(11).Y), ToArray(fromFile.GetBatch(11).Y));
        }
        finally { Directory.Delete(dir, recursive: true); }
    }
}
