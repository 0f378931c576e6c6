namespace ArchLab.Data;

/// <summary>A read-only run of token ids, addressable by 64-bit position (a memory-mapped file or an array).</summary>
public interface ITokenSequence
{
    long Count { get; }

    /// <summary>Copies tokens [start, start + destination.Length) widened to int64 (TorchSharp's index type).</summary>
    void CopyTo(long start, Span<long> destination);
}

/// <summary>Tokens held in managed memory (tests, small data).</summary>
public sealed class TokenArray(int[] tokens) : ITokenSequence
{
    public long Count => tokens.Length;

    public void CopyTo(long start, Span<long> destination)
    {
        var source = tokens.AsSpan(checked((int)start), destination.Length);
        for (int i = 0; i < source.Length; i++) destination[i] = source[i];
    }
}
