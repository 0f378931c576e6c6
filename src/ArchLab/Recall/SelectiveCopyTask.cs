namespace ArchLab.Recall;

/// <summary>
/// Selective copying (Gu and Dao 2023, "Mamba", §3.1 and §4.1.1): <see cref="Tokens"/> data tokens (ids 1..V−2) are scattered at
/// random positions (kept in order) among noise tokens (id 0) in the first SeqLen − Tokens positions; then come Tokens marker
/// tokens (id V−1), and at the i-th marker the target is the i-th data token. Only the marker positions are scored.
/// </summary>
public sealed record SelectiveCopyTask : IRecallTask
{
    public int VocabSize { get; }
    public int SeqLen { get; }
    public int Tokens { get; }
    public string Name => "selective-copy";

    public const int Noise = 0;
    public int Marker => VocabSize - 1;

    public SelectiveCopyTask(int vocabSize, int seqLen, int tokens)
    {
        if (vocabSize < 3) throw new ArgumentException($"selective-copy: vocabulary must have at least 3 ids, got {vocabSize}");
        if (tokens <= 0) throw new ArgumentException($"selective-copy: tokens to copy must be positive, got {tokens}");
        if (2 * tokens > seqLen) throw new ArgumentException($"selective-copy: {tokens} tokens need a sequence of at least {2 * tokens}, got {seqLen}");
        (VocabSize, SeqLen, Tokens) = (vocabSize, seqLen, tokens);
    }

    /// <summary>Positions holding data and noise, before the markers.</summary>
    public int ContentLength => SeqLen - Tokens;

    public RecallExample Generate(Random rng)
    {
        var inputs = new int[SeqLen];
        var targets = Enumerable.Repeat(RecallExample.Ignore, SeqLen).ToArray();
        var positions = Sampling.Distinct(rng, 0, ContentLength, Tokens);
        Array.Sort(positions);
        for (int i = 0; i < Tokens; i++)
        {
            int data = 1 + rng.Next(VocabSize - 2);
            inputs[positions[i]] = data;
            inputs[ContentLength + i] = Marker;
            targets[ContentLength + i] = data;
        }
        return new RecallExample(inputs, targets);
    }
}
