using ArchLab.Inference;
using ArchLab.Models;
using ArchLab.Tests.TestSupport;
using TorchSharp;
using static TorchSharp.torch;

namespace ArchLab.Tests.Models;

/// <summary>The KV-cache paths (prefill, chunks, steps) must reproduce one parallel pass, including grouped-query heads.</summary>
public class AttentionParityTests
{
    static LanguageModel Model(int kvHeads, bool tied = false)
    {
        torch.manual_seed(7);
        var model = new LanguageModel(new ModelConfig { VocabSize = 50, Dim = 48, Layers = 2, Heads = 6, KvHeads = kvHeads, ContextLength = 64, TiedEmbeddings = tied });
        model.to(ScalarType.Float64);
        return model;
    }

    [Theory]
    [InlineData(6, DecodeMode.Recurrent, 0, 8)]
    [InlineData(2, DecodeMode.Recurrent, 0, 8)]
    [InlineData(2, DecodeMode.PrefillStep, 11, 8)]
    [InlineData(3, DecodeMode.Chunked, 0, 5)] // chunk that does not divide T = 37
    [InlineData(1, DecodeMode.Chunked, 0, 8)]
    public void CachedModesEqualParallel(int kvHeads, DecodeMode mode, int prefill, int chunk)
    {
        using var model = Model(kvHeads);
        torch.manual_seed(1);
        var ids = randint(0, 50, [2, 37]);
        using var parallel = LogitsRunner.Run(model, ids, DecodeMode.Parallel);
        using var other = LogitsRunner.Run(model, ids, mode, prefill, chunk);
        TensorAssert.Close(parallel, other, 1e-10, mode.ToString());
    }

    [Fact]
    public void CacheGrowsBeyondItsAllocationAndKeepsResults()
    {
        using var model = Model(2, tied: true);
        var ids = randint(0, 50, [1, 20]);
        using var parallel = model.forward(ids);
        using var state = model.AllocateState(1, 4); // smaller than needed: must grow, not fail or corrupt
        using var noGrad = no_grad();
        var stepped = cat(Enumerable.Range(0, 20).Select(t => model.Step(ids.select(1, t), state).unsqueeze(1)).ToArray(), 1);
        TensorAssert.Close(parallel, stepped, 1e-10, "steps past the allocated cache");
        Assert.Equal(20, state.Position);
    }

    [Fact]
    public void StateBytesAnalyticMatchesMeasured()
    {
        using var model = Model(2);
        using var state = model.AllocateState(3, 40);
        // K and V: 2 layers × 2 tensors × batch 3 × 2 kv heads × 40 positions × head dim 8 × 8 bytes (float64)
        Assert.Equal(2L * 2 * 3 * 2 * 40 * 8 * 8, state.Bytes);
        Assert.Equal(state.Bytes, model.StateBytes(3, 40));
    }
}
