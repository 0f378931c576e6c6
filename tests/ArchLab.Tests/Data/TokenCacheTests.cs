using ArchLab.Data;

namespace ArchLab.Tests.Data;

public sealed class TokenCacheTests : IDisposable
{
    readonly string _dir = Directory.CreateTempSubdirectory("archlab-tokens-").FullName;

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    static TextCorpus Corpus() => new("toy", string.Concat(Enumerable.Repeat("Héllo wörld, tokens! ", 50)), "Validation text ✓\n");

    [Theory]
    [InlineData(256, 2)]
    [InlineData(65_536, 2)]
    [InlineData(100_277, 4)]
    public void TokenFile_RoundTripsWithTheRightWidth(int vocabSize, int width)
    {
        int[] tokens = [.. Enumerable.Range(0, 1000).Select(i => i * 7919 % Math.Min(vocabSize, 65_536) + (width == 4 ? 34_000 : 0))];
        string path = Path.Combine(_dir, "t.tokens");
        TokenFile.Write(path, tokens, vocabSize, sourceByteCount: 4321);

        using var file = TokenFile.Open(path);
        Assert.Equal(width, file.BytesPerToken);
        Assert.Equal(TokenFile.HeaderSize + 1000L * width, new FileInfo(path).Length);
        Assert.Equal(1000, file.Count);
        Assert.Equal(4321, file.SourceByteCount);
        Assert.Equal(vocabSize, file.VocabSize);
        Assert.Equal(tokens, file.ToArray());
        var window = new long[5];
        file.CopyTo(995, window);
        Assert.Equal(tokens[995..].Select(t => (long)t), window);
        Assert.Throws<ArgumentOutOfRangeException>(() => file.CopyTo(996, window));
    }

    [Fact]
    public void TokenFile_TruncatedOrCorrupted_ThrowsNamingTheFile()
    {
        string path = Path.Combine(_dir, "bad.tokens");
        TokenFile.Write(path, [.. Enumerable.Range(0, 100)], 256, 100);
        byte[] good = File.ReadAllBytes(path);

        File.WriteAllBytes(path, good[..^3]);
        var truncated = Assert.Throws<InvalidDataException>(() => TokenFile.Open(path));
        Assert.Contains(path, truncated.Message);
        Assert.Contains("truncated", truncated.Message);

        File.WriteAllBytes(path, good[..10]);
        Assert.Contains(path, Assert.Throws<InvalidDataException>(() => TokenFile.Open(path)).Message);

        byte[] flipped = (byte[])good.Clone();
        flipped[TokenFile.HeaderSize + 17] ^= 1;
        File.WriteAllBytes(path, flipped);
        var corrupted = Assert.Throws<InvalidDataException>(() => TokenFile.Open(path));
        Assert.Contains("checksum", corrupted.Message);
    }

    [Fact]
    public void Cache_RoundTripsAndRebuildsATruncatedFile()
    {
        var corpus = Corpus();
        var tokenizer = new ByteTokenizer();
        var log = new StringWriter();
        string path;
        using (var tokenized = TokenizedCorpus.Load(corpus, tokenizer, _dir, log))
        {
            path = tokenized.Train.Tokens.Path;
            Assert.Equal(tokenizer.Encode(corpus.Train), tokenized.Train.Tokens.ToArray());
            Assert.Equal(tokenizer.Encode(corpus.Validation), tokenized.Validation.Tokens.ToArray());
            Assert.Equal(1.0, tokenized.Train.TokensPerByte);
            Assert.Equal(1.0, tokenized.Train.BitsPerByte(Math.Log(2)), 12);
        }
        Assert.Equal(path, TokenCache.PathFor(corpus, CorpusSplit.Train, tokenizer, _dir));
        Assert.NotEqual(path, TokenCache.PathFor(corpus, CorpusSplit.Train, TiktokenTextTokenizer.Cl100k(), _dir));

        File.WriteAllBytes(path, File.ReadAllBytes(path)[..^1]);
        using var rebuilt = TokenCache.GetOrBuild(corpus, CorpusSplit.Train, tokenizer, _dir, log);
        Assert.Equal(tokenizer.Encode(corpus.Train), rebuilt.ToArray());
        Assert.Contains($"Token file {path} is invalid", log.ToString());
    }

    [Fact]
    public void BitsPerByte_UsesTokensPerByte()
    {
        var corpus = Corpus();
        var tokenizer = TiktokenTextTokenizer.Cl100k();
        using var tokenized = TokenizedCorpus.Load(corpus, tokenizer, _dir);
        long bytes = System.Text.Encoding.UTF8.GetByteCount(corpus.Train);
        long tokens = tokenizer.Encode(corpus.Train).Length;
        Assert.Equal(bytes, tokenized.Train.ByteCount);
        Assert.Equal(tokens, tokenized.Train.TokenCount);
        Assert.Equal(4, tokenized.Train.Tokens.BytesPerToken); // vocab 100,277 > 65,536
        Assert.Equal(2.5 * tokens / (bytes * Math.Log(2)), tokenized.Train.BitsPerByte(2.5), 12);
    }
}
