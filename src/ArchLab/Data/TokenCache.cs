using System.Security.Cryptography;
using System.Text;

namespace ArchLab.Data;

/// <summary>
/// Tokenized splits cached as <see cref="TokenFile"/>s in <c>&lt;cache&gt;/tokens/</c>, named
/// <c>&lt;corpus&gt;-&lt;split&gt;-&lt;tokenizer&gt;-&lt;key&gt;.tokens</c> where key hashes the corpus content hash, the split,
/// the tokenizer's name and vocabulary size and the file format version. A cached file that fails validation
/// (truncated, corrupted) is reported to the log and rebuilt.
/// </summary>
public static class TokenCache
{
    public static string PathFor(TextCorpus corpus, CorpusSplit split, ITextTokenizer tokenizer, string cacheDir)
    {
        string identity = $"v{TokenFile.FormatVersion}|{corpus.ContentHash}|{split}|{tokenizer.Name}|{tokenizer.VocabSize}";
        string key = Convert.ToHexStringLower(SHA256.HashData(Encoding.UTF8.GetBytes(identity)))[..16];
        string name = $"{Safe(corpus.Name)}-{split.ToString().ToLowerInvariant()}-{Safe(tokenizer.Name)}-{key}.tokens";
        return Path.Combine(cacheDir, name);
    }

    /// <summary>Opens the cached tokens of one split, tokenizing and writing them first if missing or invalid.</summary>
    public static TokenFile GetOrBuild(TextCorpus corpus, CorpusSplit split, ITextTokenizer tokenizer,
        string? cacheDir = null, TextWriter? log = null)
    {
        cacheDir ??= CacheDirectory.For("tokens");
        Directory.CreateDirectory(cacheDir);
        string path = PathFor(corpus, split, tokenizer, cacheDir);
        if (File.Exists(path))
        {
            try { return TokenFile.Open(path); }
            catch (InvalidDataException e) { log?.WriteLine($"{e.Message} Rebuilding it."); }
        }

        string text = corpus[split];
        log?.WriteLine($"Tokenizing {corpus.Name}/{split} with {tokenizer.Name} → {path}");
        TokenFile.Write(path, tokenizer.Encode(text), tokenizer.VocabSize, Encoding.UTF8.GetByteCount(text));
        return TokenFile.Open(path);
    }

    static string Safe(string name) =>
        string.Concat(name.Select(c => char.IsAsciiLetterOrDigit(c) || c is '-' or '_' or '.' ? c : '_'));
}
