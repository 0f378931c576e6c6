namespace ArchLab.Data;

/// <summary>
/// The result of <see cref="BpeTrainer"/>: every token's bytes, index = rank = id (0..255 are the single bytes,
/// then one token per merge in the order learned), and the merges as (left id, right id) pairs.
/// </summary>
public sealed class BpeVocabulary(IReadOnlyList<byte[]> tokens, IReadOnlyList<(int Left, int Right)> merges)
{
    public IReadOnlyList<byte[]> Tokens { get; } = tokens;

    public IReadOnlyList<(int Left, int Right)> Merges { get; } = merges;

    public int Count => Tokens.Count;

    /// <summary>Writes the <c>.tiktoken</c> ranks file (atomically); load it with <see cref="TiktokenTextTokenizer.FromFile"/>.</summary>
    public void Save(string path) => TiktokenFile.Write(path, Tokens);
}
