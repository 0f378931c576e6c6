using ArchLab.Mixers;
using ArchLab.Models;
using TorchSharp;
using static TorchSharp.torch;

namespace ArchLab.Tests.Mixers;

/// <summary>The benchmarks' shortcut to a long context (<see cref="MixerState.FillArbitrary"/>): a KV cache takes it, a
/// recurrent state refuses, and a model whose layers disagree changes nothing.</summary>
public class FillArbitraryTests
{
    [Fact]
    public void KvCacheFillsToTheLengthWithSeededContentsAndGrows()
    {
        using var cache = new KvCache(batch: 2, kvHeads: 3, capacity: 4, headDim: 8, ScalarType.Float32, CPU);
        Assert.True(cache.CanFillArbitrary);
        cache.Append(ones(2, 3, 1, 8), ones(2, 3, 1, 8));
        cache.FillArbitrary(10, new Random(5)); // past the capacity of 4
        Assert.Equal(10, cache.Position);
        Assert.True(cache.Capacity >= 10);
        var (keys, values) = cache.Contents;
        Assert.Equal([2L, 3, 10, 8], keys.shape);
        Assert.Equal(1f, keys[0, 0, 0, 0].item<float>()); // what was there stays
        Assert.True(keys.narrow(2, 1, 9).std().item<float>() > 0.5f); // normal contents, not the zeros it was allocated with
        Assert.True(values.narrow(2, 1, 9).std().item<float>() > 0.5f);

        using var again = new KvCache(2, 3, 4, 8, ScalarType.Float32, CPU);
        again.Append(ones(2, 3, 1, 8), ones(2, 3, 1, 8));
        again.FillArbitrary(10, new Random(5));
        Assert.True(again.Contents.Keys.equal(keys).all().item<bool>(), "the same Random gives the same contents");
        Assert.Throws<ArgumentException>(() => again.FillArbitrary(3, new Random(5)));
    }

    /// <summary>Every registered mixer's state either fills (and a step then runs from that position) or refuses; only a
    /// state whose step cost ignores its contents may fill, so a recurrent one (Mamba) must refuse.</summary>
    [Theory]
    [MemberData(nameof(Names))]
    public void AModelFillsOnlyWhenEveryLayerMay(string arch)
    {
        torch.manual_seed(3);
        using var model = new LanguageModel(new ModelConfig { Arch = arch, VocabSize = 20, Dim = 16, Layers = 2, Heads = 2, ContextLength = 16 }.Validate());
        model.eval();
        using var state = model.AllocateState(1, 12);
        bool filled = state.TryFillArbitrary(8, new Random(1));
        Assert.Equal(state.Layers.All(s => s is null || s.CanFillArbitrary), filled);
        Assert.Equal(filled ? 8 : 0, state.Position);
        if (arch == Attention.Spec.Name) Assert.True(filled);
        if (arch == Mamba.Spec.Name) Assert.False(filled);
        using var _ = no_grad();
        var logits = model.Step(tensor(new long[] { 3 }), state);
        Assert.True(logits.isfinite().all().item<bool>());
        Assert.Equal(filled ? 9 : 1, state.Position);
    }

    public static TheoryData<string> Names() => new(MixerRegistry.Names);

    [Fact]
    public void AHybridWithARecurrentLayerRefusesAndLeavesItsCachesEmpty()
    {
        using var model = new LanguageModel(new ModelConfig
        {
            VocabSize = 20, Dim = 16, Layers = 2, Heads = 2, ContextLength = 16, LayerPattern = [Attention.Spec.Name, Mamba.Spec.Name],
        }.Validate());
        using var state = model.AllocateState(1, 12);
        Assert.False(state.TryFillArbitrary(8, new Random(1)));
        Assert.All(state.Layers, s => Assert.Equal(0, s!.Position));
    }
}
