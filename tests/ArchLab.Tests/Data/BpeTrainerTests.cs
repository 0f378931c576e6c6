using ArchLab.Tests.TestSupport;
using System.Diagnostics;
using System.Text;
using ArchLab.Data;
using Xunit.Abstractions;

namespace ArchLab.Tests.Data;

public sealed class BpeTrainerTests(ITestOutputHelper output) : IDisposable
{
    readonly string _dir = Directory.CreateTempSubdirectory("archlab-bpe-").FullName;

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    static string SampleText()
    {
        var text = new StringBuilder();
        for (int i = 0; i < 200; i++)
            text.Append($"The quick brown fox {i} jumps over the lazy dog. It's the dog's day, isn't it? ")
                .Append(i % 7 == 0 ? "Ünïcödé café — 日本語 🎉\n" : "\n");
        return text.ToString();
    }

    [Fact]
    public void ToyText_LearnsTheMergesYouWouldByHand()
    {
        // One pre-token "aaabdaaabac": pairs aa×4, ab×2, … → first merge a+a. Then "aa a b d aa a b a c":
        // (aa,a)×2 and (a,b)×2 tie; the smaller ids win, so a+b (97,98) before aa+a (256,97).
        var vocab = BpeTrainer.Train("aaabdaaabac", 258);
        Assert.Equal([((int)'a', (int)'a'), ((int)'a', (int)'b')], vocab.Merges);
        Assert.Equal("aa"u8.ToArray(), vocab.Tokens[256]);
        Assert.Equal("ab"u8.ToArray(), vocab.Tokens[257]);
    }

    [Fact]
    public void Train_IsDeterministic()
    {
        string text = SampleText();
        string a = Path.Combine(_dir, "a.tiktoken"), b = Path.Combine(_dir, "b.tiktoken");
        BpeTrainer.Train(text, 400).Save(a);
        BpeTrainer.Train(text, 400).Save(b);
        Assert.Equal(File.ReadAllBytes(a), File.ReadAllBytes(b));
        Assert.Equal(400, TiktokenFile.Read(a).Count);
    }

    [Fact]
    public void SavedFile_LoadsInTheLibraryAndRoundTrips()
    {
        string text = SampleText();
        string path = Path.Combine(_dir, "sample.tiktoken");
        BpeTrainer.Train(text, 350).Save(path);
        var tokenizer = Tokenizers.Create($"bpe:{path}");
        Assert.Equal(350, tokenizer.VocabSize);
        Assert.StartsWith("bpe-sample-", tokenizer.Name);

        foreach (string sample in new[] { text, TokenizerTests.Unicode, "never seen: zebra ЖЖЖ 🦓 \r\n\t 0.5%" })
        {
            int[] tokens = tokenizer.Encode(sample);
            Assert.Equal(sample, tokenizer.Decode(tokens));
            Assert.All(tokens, t => Assert.InRange(t, 0, tokenizer.VocabSize - 1));
        }
        Assert.True(tokenizer.Encode(text).Length < Encoding.UTF8.GetByteCount(text) / 3, "merges should compress the training text");
        Assert.Single(tokenizer.Encode(" quick")); // a frequent word became one token
    }

    /// <summary>The whole Brown training split (the time goes to the test output; it is not asserted: the machine may be loaded).</summary>
    [Fact]
    [Trait("Category", Category.Slow)]
    public void Brown4k_Trains()
    {
        var corpus = BrownCorpus.Load();
        var clock = Stopwatch.StartNew();
        var vocab = BpeTrainer.Train(corpus.Train, 4096);
        output.WriteLine($"BPE 4096 on Brown train ({corpus.Train.Length:N0} chars): {clock.Elapsed.TotalSeconds:F1} s");
        Assert.Equal(4096, vocab.Count);
    }
}
