using System.Security.Cryptography;
using Microsoft.ML.Tokenizers;

namespace ArchLab.Data;

/// <summary>
/// A byte-level BPE tokenizer in the tiktoken format, run by Microsoft.ML.Tokenizers' <c>TiktokenTokenizer</c>:
/// either OpenAI's cl100k (GPT-4) or a <c>.tiktoken</c> file trained by <see cref="BpeTrainer"/>.
/// (Named TiktokenTextTokenizer so it does not clash with Microsoft.ML.Tokenizers.TiktokenTokenizer.)
/// </summary>
public sealed class TiktokenTextTokenizer : ITextTokenizer
{
    readonly TiktokenTokenizer _tokenizer;

    TiktokenTextTokenizer(string name, TiktokenTokenizer tokenizer, int vocabSize)
    {
        Name = name;
        _tokenizer = tokenizer;
        VocabSize = vocabSize;
    }

    public string Name { get; }

    public int VocabSize { get; }

    /// <summary>Ordinary (non-special) tokens of cl100k_base: ranks 0..100255.</summary>
    const int Cl100kRanks = 100_256;

    /// <summary>OpenAI's cl100k_base (GPT-4), vocabulary 100,277 including special tokens.</summary>
    public static TiktokenTextTokenizer Cl100k()
    {
        var tokenizer = TiktokenTokenizer.CreateForModel("gpt-4");
        int maxId = Cl100kRanks - 1;
        if (tokenizer.SpecialTokens is { Count: > 0 } special) maxId = Math.Max(maxId, special.Values.Max());
        return new("cl100k", tokenizer, maxId + 1);
    }

    /// <summary>
    /// Loads a <c>.tiktoken</c> file with the cl100k pre-tokenizer (<see cref="PreTokenizerPattern"/>), no normalizer and
    /// no special tokens. Name: <c>bpe-&lt;file stem&gt;-&lt;first 8 hex of the file's SHA-256&gt;</c>.
    /// </summary>
    public static TiktokenTextTokenizer FromFile(string path)
    {
        if (!File.Exists(path)) throw new FileNotFoundException($"Tokenizer file not found: {path}", path);
        byte[] content = File.ReadAllBytes(path);
        int vocabSize = TiktokenFile.Read(path).Count;
        string hash = Convert.ToHexStringLower(SHA256.HashData(content))[..8];
        var preTokenizer = new RegexPreTokenizer(PreTokenizerPattern.Regex(), specialTokens: null);
        using var stream = new MemoryStream(content);
        var tokenizer = TiktokenTokenizer.Create(stream, preTokenizer, normalizer: null, specialTokens: null);
        return new TiktokenTextTokenizer($"bpe-{Path.GetFileNameWithoutExtension(path)}-{hash}", tokenizer, vocabSize);
    }

    public int[] Encode(string text) => [.. _tokenizer.EncodeToIds(text)];

    public string Decode(ReadOnlySpan<int> tokens) => _tokenizer.Decode(tokens.ToArray());
}
