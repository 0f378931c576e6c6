using ArchLab.Inference;
using ArchLab.Models;
using ArchLab.Tests.TestSupport;
using TorchSharp;
using static TorchSharp.torch;

namespace ArchLab.Tests.Models;

/// <summary>A per-layer pattern of different mixers decodes like any model: every mode equals one parallel pass.</summary>
public class HybridModelTests
{
    static readonly string[] Pattern = ["rwkv4", "transformer", "retnet", "mamba"];

    static LanguageModel Model()
    {
        torch.manual_seed(5);
        // eps tiny: RetNet's modes differ from each other only through the group norm's eps (see RetNetTests)
        var config = new ModelConfig { VocabSize = 40, Dim = 32, Layers = Pattern.Length, Heads = 4, LayerPattern = Pattern, NormEps = 1e-24 };
        var model = new LanguageModel(config);
        model.to(ScalarType.Float64);
        return model;
    }

    [Theory]
    [InlineData(DecodeMode.Recurrent, 0, 8)]
    [InlineData(DecodeMode.PrefillStep, 16, 8)]
    [InlineData(DecodeMode.Chunked, 0, 8)]
    public void EveryModeEqualsParallel(DecodeMode mode, int prefill, int chunk)
    {
        using var model = Model();
        Assert.Equal(Pattern, model.blocks.Select(b => b.Mixer.GetType().Name switch
        {
            "Attention" => "transformer", "Rwkv4TimeMix" => "rwkv4", "Retention" => "retnet", "Mamba" => "mamba", var other => other,
        }));
        var ids = randint(0, 40, [2, 24]);
        using var parallel = LogitsRunner.Run(model, ids, DecodeMode.Parallel);
        using var other = LogitsRunner.Run(model, ids, mode, prefill, chunk);
        TensorAssert.Close(parallel, other, 1e-9, mode.ToString());
    }

    [Fact]
    public void StateHoldsEachLayersOwnKind()
    {
        using var model = Model();
        using var state = model.AllocateState(2, 100);
        // the attention layer holds a KV cache that grows with length; the recurrent layers do not
        long attentionBytes = 2L * 2 * 4 * 100 * 8 * 8; // (K,V) × batch × heads × length × headDim × 8 bytes
        Assert.True(model.StateBytes(2, 100) > attentionBytes);
        Assert.Equal(model.StateBytes(2, 200) - model.StateBytes(2, 100), attentionBytes);
    }
}
