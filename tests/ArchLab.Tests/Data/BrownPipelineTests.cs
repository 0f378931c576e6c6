using ArchLab.Data;
using Xunit.Abstractions;
using static TorchSharp.torch;

namespace ArchLab.Tests.Data;

/// <summary>The path the trainer takes: Brown → tokenizer → cached memory-mapped tokens → batches → bits per byte.</summary>
public class BrownPipelineTests(ITestOutputHelper output)
{
    [Theory]
    [InlineData("byte")]
    [InlineData("cl100k")]
    [InlineData("bpe:4096")]
    public void Brown_TokenizesLosslesslyAndFeedsBatches(string spec)
    {
        var log = new StringWriter();
        var corpus = BrownCorpus.Load(log: log);
        var tokenizer = Tokenizers.Create(spec, corpus, log);
        using var tokenized = TokenizedCorpus.Load(corpus, tokenizer, log: log);
        output.WriteLine(log.ToString());
        output.WriteLine($"{spec}: train {tokenized.Train.TokenCount:N0} tokens, validation {tokenized.Validation.TokenCount:N0}, " +
                         $"{tokenized.Validation.BytesPerToken:F2} bytes/token");

        Assert.Equal(corpus.Validation, tokenizer.Decode(tokenized.Validation.Tokens.ToArray()));
        Assert.Equal(System.Text.Encoding.UTF8.GetByteCount(corpus.Train), tokenized.Train.ByteCount);
        Assert.InRange(tokenized.Train.BytesPerToken, spec == "byte" ? 1.0 : 3.0, spec == "byte" ? 1.0 : 6.0);

        var sampler = new BatchSampler(tokenized.Train.Tokens, batchSize: 4, seqLen: 64, seed: 1);
        using var scope = NewDisposeScope();
        var (x, y) = sampler.GetBatch(0);
        Assert.True(x.max().item<long>() < tokenizer.VocabSize);
        Assert.True(y[.., ..^1].eq(x[.., 1..]).all().item<bool>());
        Assert.NotEmpty(new BatchSampler(tokenized.Validation.Tokens, 4, 64, 1).EvalBatches(2));
    }
}
