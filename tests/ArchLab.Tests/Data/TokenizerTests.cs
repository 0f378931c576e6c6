using ArchLab.Data;

namespace ArchLab.Tests.Data;

public class TokenizerTests
{
    public const string Unicode = "Hello, world! Ünïcödé — 日本語 🎉 tab\there\n\nnew  lines  and 12345 numbers' it's.";

    [Fact]
    public void Byte_RoundTripsAndHasVocab256()
    {
        var tokenizer = new ByteTokenizer();
        int[] tokens = tokenizer.Encode(Unicode);
        Assert.Equal(System.Text.Encoding.UTF8.GetByteCount(Unicode), tokens.Length);
        Assert.All(tokens, t => Assert.InRange(t, 0, 255));
        Assert.Equal(Unicode, tokenizer.Decode(tokens));
        Assert.Equal(256, tokenizer.VocabSize);
    }

    [Fact]
    public void Cl100k_RoundTripsAndKnowsItsVocab()
    {
        var tokenizer = Tokenizers.Create("cl100k");
        int[] tokens = tokenizer.Encode(Unicode);
        Assert.Equal(Unicode, tokenizer.Decode(tokens));
        Assert.Equal([9906, 11, 1917, 0], tokenizer.Encode("Hello, world!")); // the well-known GPT-4 ids
        Assert.Equal(100_277, tokenizer.VocabSize);
        Assert.All(tokens, t => Assert.InRange(t, 0, tokenizer.VocabSize - 1));
    }

    [Fact]
    public void Create_UnknownSpec_Throws()
    {
        var e = Assert.Throws<ArgumentException>(() => Tokenizers.Create("sentencepiece"));
        Assert.Contains("sentencepiece", e.Message);
        Assert.Throws<FileNotFoundException>(() => Tokenizers.Create("bpe:/no/such/file.tiktoken"));
        Assert.Throws<ArgumentException>(() => Tokenizers.Create("bpe:512")); // training needs a corpus
    }
}
