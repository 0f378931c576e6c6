using ArchLab.Inference;
using ArchLab.Models;
using ArchLab.Tests.TestSupport;
using TorchSharp;
using static TorchSharp.torch;

namespace ArchLab.Tests.Models;

/// <summary>A per-layer pattern of different mixers keeps each layer's own state (its decode modes are in MixerConformanceTests).</summary>
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
