namespace ArchLab.Data;

/// <summary>
/// One split of a corpus as memory-mapped tokens, plus what is needed to report bits per byte: the UTF-8 byte count of
/// the text the tokens came from. bits/byte = (loss in nats per token) × tokens / (bytes × ln 2), which compares
/// models across tokenizers.
/// </summary>
public sealed class TokenizedSplit(TokenFile tokens) : IDisposable
{
    public TokenFile Tokens { get; } = tokens;

    public long TokenCount => Tokens.Count;

    /// <summary>UTF-8 bytes of the split's text.</summary>
    public long ByteCount => Tokens.SourceByteCount;

    public double TokensPerByte => (double)TokenCount / ByteCount;

    public double BytesPerToken => (double)ByteCount / TokenCount;

    /// <summary>Converts a mean cross-entropy per token (natural log) into bits per byte of the source text.</summary>
    public double BitsPerByte(double lossNatsPerToken) => lossNatsPerToken * TokensPerByte / Math.Log(2);

    public void Dispose() => Tokens.Dispose();
}
