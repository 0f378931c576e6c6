using ArchLab.Models;
using TorchSharp;

namespace ArchLab.Tests.Models;

public class ModelAccountingTests
{
    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public void ParameterCountsFollowTheShapes(bool tied)
    {
        var config = new ModelConfig { VocabSize = 100, Dim = 64, Layers = 3, Heads = 4, KvHeads = 2, FfnHidden = 160, TiedEmbeddings = tied };
        using var model = new LanguageModel(config);
        long attention = 64 * 64 + 2 * (64 * 32) + 64 * 64; // wq, wk and wv for 2 of 4 heads, wo
        long mlp = 3 * 64 * 160;
        long norms = 2 * 64;
        long perLayer = attention + mlp + norms;
        Assert.Equal(3 * perLayer + 64, model.NonEmbeddingParameters); // + final norm
        Assert.Equal(100 * 64, model.EmbeddingParameters);
        Assert.Equal(tied ? 0 : 100 * 64, model.HeadParameters);
        Assert.Equal(model.parameters().Sum(p => p.numel()), model.TotalParameters);
    }

    [Fact]
    public void TrainingFlopsAreSixPerWeightPlusAttention()
    {
        var config = new ModelConfig { VocabSize = 100, Dim = 64, Layers = 2, Heads = 4, FfnHidden = 128 };
        using var model = new LanguageModel(config);
        long n = model.NonEmbeddingParameters + 100 * 64; // the head matmul counts, the embedding lookup does not
        long attention = 2 * 2L * 4 * 16 * (256 + 1);   // per layer: 2·heads·headDim·(T+1), 2 layers
        Assert.Equal(3 * (2 * n + attention), model.TrainingFlopsPerToken(256));
    }

    [Theory]
    [InlineData(64, 32, null, 192)]    // the golden LLaMA case: int(2·4·64/3) = 170 → 192
    [InlineData(4096, 256, null, 11008)] // LLaMA-7B
    [InlineData(4096, 1024, 1.3, 14336)] // LLaMA-3-8B
    public void LlamaHiddenSizeRule(int dim, int multipleOf, double? multiplier, int expected) =>
        Assert.Equal(expected, ModelConfig.LlamaFfnHidden(dim, multipleOf, multiplier));
}
