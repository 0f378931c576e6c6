namespace ArchLab.Recall;

/// <summary>
/// Induction heads (Olsson et al. 2022; the synthetic task of Gu and Dao 2023, "Mamba", §4.1.2): random tokens in which a
/// trigger token (the last id, <see cref="Trigger"/>) appears once, followed by an answer token; the sequence ends with the
/// trigger again, and the one scored target, at that last position, is the answer. The trigger appears nowhere else.
/// </summary>
public sealed record InductionTask : IRecallTask
{
    public int VocabSize { get; }
    public int SeqLen { get; }
    public string Name => "induction";

    public InductionTask(int vocabSize, int seqLen)
    {
        if (vocabSize < 3) throw new ArgumentException($"induction: vocabulary must have at least 3 ids, got {vocabSize}");
        if (seqLen < 4) throw new ArgumentException($"induction: sequence length must be at least 4, got {seqLen}");
        (VocabSize, SeqLen) = (vocabSize, seqLen);
    }

    public int Trigger => VocabSize - 1;

    public RecallExample Generate(Random rng)
    {
        var inputs = new int[SeqLen];
        for (int t = 0; t < SeqLen; t++) inputs[t] = rng.Next(Trigger); // ordinary tokens: every id but the trigger
        int first = rng.Next(SeqLen - 2); // trigger and answer both before the final trigger
        inputs[first] = Trigger;
        int answer = inputs[first + 1];
        inputs[SeqLen - 1] = Trigger;
        var targets = Enumerable.Repeat(RecallExample.Ignore, SeqLen).ToArray();
        targets[SeqLen - 1] = answer;
        return new RecallExample(inputs, targets);
    }
}
