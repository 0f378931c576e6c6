using System.Diagnostics;

namespace ArchLab.Data;

/// <summary>
/// Creates a tokenizer from a short spec (as given on the command line):
/// <list type="bullet">
/// <item><c>byte</c> — UTF-8 bytes, vocabulary 256 (<see cref="ByteTokenizer"/>);</item>
/// <item><c>cl100k</c> — OpenAI's GPT-4 tokenizer, vocabulary 100,277;</item>
/// <item><c>bpe:&lt;path&gt;</c> — a <c>.tiktoken</c> file, e.g. one saved by <see cref="BpeTrainer"/>;</item>
/// <item><c>bpe:&lt;vocab size&gt;</c> — train a BPE of that size on <paramref name="trainingCorpus"/>'s train split, cached
/// in <c>&lt;cache&gt;/tokenizers/&lt;corpus&gt;-&lt;content hash&gt;-bpe&lt;size&gt;.tiktoken</c>.</item>
/// </list>
/// </summary>
public static class Tokenizers
{
    public static readonly string[] Specs = ["byte", "cl100k", "bpe:<path.tiktoken>", "bpe:<vocab size>"];

    public static ITextTokenizer Create(string spec, TextCorpus? trainingCorpus = null, TextWriter? log = null)
    {
        string s = spec.Trim();
        if (s.Equals("byte", StringComparison.OrdinalIgnoreCase)) return new ByteTokenizer();
        if (s.Equals("cl100k", StringComparison.OrdinalIgnoreCase)) return TiktokenTextTokenizer.Cl100k();
        if (s.StartsWith("bpe:", StringComparison.OrdinalIgnoreCase))
        {
            string arg = s["bpe:".Length..];
            if (int.TryParse(arg, out int vocabSize))
                return TiktokenTextTokenizer.FromFile(TrainedBpePath(vocabSize, trainingCorpus
                    ?? throw new ArgumentException($"Tokenizer spec '{spec}' trains a BPE, which needs a corpus."), log));
            return TiktokenTextTokenizer.FromFile(arg);
        }
        throw new ArgumentException($"Unknown tokenizer spec '{spec}'. Known: {string.Join(", ", Specs)}.", nameof(spec));
    }

    /// <summary>The cached <c>.tiktoken</c> file of a BPE trained on the corpus's train split (trained on first use).</summary>
    public static string TrainedBpePath(int vocabSize, TextCorpus corpus, TextWriter? log = null)
    {
        string path = Path.Combine(CacheDirectory.For("tokenizers"), $"{corpus.Name}-{corpus.ContentHash[..12]}-bpe{vocabSize}.tiktoken");
        if (File.Exists(path)) return path;
        log?.WriteLine($"Training a {vocabSize}-token BPE on {corpus.Name} ({corpus.Train.Length:N0} chars)…");
        var clock = Stopwatch.StartNew();
        BpeTrainer.Train(corpus.Train, vocabSize).Save(path);
        log?.WriteLine($"Trained in {clock.Elapsed.TotalSeconds:F1} s → {path}");
        return path;
    }
}
