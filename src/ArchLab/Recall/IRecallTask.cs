namespace ArchLab.Recall;

/// <summary>A synthetic sequence task: every call draws one example from <paramref name="rng"/> (so a seed fixes a whole stream).</summary>
public interface IRecallTask
{
    /// <summary>Short name for tables (mqar, induction, selective-copy).</summary>
    string Name { get; }
    int VocabSize { get; }
    int SeqLen { get; }
    RecallExample Generate(Random rng);
}
