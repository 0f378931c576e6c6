namespace ArchLab.Data;

/// <summary>A corpus tokenized with one tokenizer: train and validation tokens, memory-mapped from the token cache.</summary>
public sealed class TokenizedCorpus : IDisposable
{
    TokenizedCorpus(string name, ITextTokenizer tokenizer, TokenizedSplit train, TokenizedSplit validation)
    {
        Name = name;
        Tokenizer = tokenizer;
        Train = train;
        Validation = validation;
    }

    public string Name { get; }
    public ITextTokenizer Tokenizer { get; }
    public TokenizedSplit Train { get; }
    public TokenizedSplit Validation { get; }

    public TokenizedSplit this[CorpusSplit split] => split == CorpusSplit.Train ? Train : Validation;

    /// <summary>Tokenizes both splits (or opens them from the cache, <c>&lt;cache&gt;/tokens/</c> by default).</summary>
    public static TokenizedCorpus Load(TextCorpus corpus, ITextTokenizer tokenizer, string? cacheDir = null, TextWriter? log = null)
    {
        var train = new TokenizedSplit(TokenCache.GetOrBuild(corpus, CorpusSplit.Train, tokenizer, cacheDir, log));
        var validation = new TokenizedSplit(TokenCache.GetOrBuild(corpus, CorpusSplit.Validation, tokenizer, cacheDir, log));
        return new TokenizedCorpus(corpus.Name, tokenizer, train, validation);
    }

    public void Dispose()
    {
        Train.Dispose();
        Validation.Dispose();
    }
}
