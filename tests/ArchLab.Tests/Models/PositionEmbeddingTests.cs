using ArchLab.Inference;
using ArchLab.Models;
using ArchLab.Tests.TestSupport;
using TorchSharp;
using static TorchSharp.torch;

namespace ArchLab.Tests.Models;

/// <summary>Learned absolute position embeddings (ModelConfig.PositionEmbedding): every decode mode adds the embedding of
/// the token's own position, so all modes agree; the table counts as embedding parameters; past the table is an error.</summary>
public class PositionEmbeddingTests
{
    static LanguageModel Model(string arch)
    {
        var generator = new Generator(3);
        var model = new LanguageModel(new ModelConfig { Arch = arch, VocabSize = 40, Dim = 32, Layers = 2, Heads = 2, ContextLength = 24, PositionEmbedding = true });
        using (no_grad())
            model.pos_embed!.weight!.copy_(randn(24, 32, generator: generator)); // large, so a wrong position shows
        model.to(ScalarType.Float64);
        return model;
    }

    [Theory]
    [InlineData("transformer", DecodeMode.Recurrent)]
    [InlineData("transformer", DecodeMode.PrefillStep)]
    [InlineData("transformer", DecodeMode.Chunked)]
    [InlineData("mamba", DecodeMode.Chunked)]
    [InlineData("rwkv4", DecodeMode.PrefillStep)]
    public void EveryModeAddsTheTokensOwnPosition(string arch, DecodeMode mode)
    {
        using var model = Model(arch);
        var ids = randint(0, 40, [2, 21], generator: new Generator(5));
        using var parallel = LogitsRunner.Run(model, ids, DecodeMode.Parallel);
        using var other = LogitsRunner.Run(model, ids, mode, prefill: 7, chunk: 5);
        TensorAssert.Close(parallel, other, 1e-10, $"{arch} {mode}");

        using var plain = new LanguageModel(model.Config with { PositionEmbedding = false });
        Assert.Equal(24 * 32, model.EmbeddingParameters - plain.EmbeddingParameters);
        Assert.Equal(model.NonEmbeddingParameters, plain.NonEmbeddingParameters);
    }

    [Fact]
    public void APositionPastTheTableIsAnError()
    {
        using var model = Model("transformer");
        var e = Assert.Throws<ArgumentException>(() => model.forward(zeros([1, 25], ScalarType.Int64)));
        Assert.Contains("context_length 24", e.Message);
    }
}
