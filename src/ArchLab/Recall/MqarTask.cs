namespace ArchLab.Recall;

/// <summary>
/// Multi-query associative recall (Arora, Eyuboglu et al. 2023, "Zoology", the multiquery_ar generator): the sequence opens
/// with <see cref="KvPairs"/> key-value pairs (keys distinct, from [1, V/2); values distinct, from [V/2, V)); after them each key
/// appears once more as a query, at offset 2·gap in the rest of the sequence, the gaps drawn without replacement from a power
/// law p(gap) ∝ a·(gap+1)^(a−1) (<see cref="PowerA"/>; Zoology's default a = 0.01 favours short gaps). The target at a query
/// is its key's value; every other position is ignored. Positions holding neither pair nor query get random ids from the
/// whole vocabulary (Zoology's random_non_queries).
/// </summary>
public sealed record MqarTask : IRecallTask
{
    public int VocabSize { get; }
    public int SeqLen { get; }
    public int KvPairs { get; }
    public double PowerA { get; }
    public bool RandomNonQueries { get; }
    public string Name => "mqar";

    readonly double[] gapWeights;

    public MqarTask(int vocabSize, int seqLen, int kvPairs, double powerA = 0.01, bool randomNonQueries = true)
    {
        if (kvPairs <= 0) throw new ArgumentException($"mqar: key-value pairs must be positive, got {kvPairs}");
        if (seqLen % 2 != 0) throw new ArgumentException($"mqar: sequence length must be even, got {seqLen}");
        if (4 * kvPairs > seqLen) throw new ArgumentException($"mqar: {kvPairs} key-value pairs need a sequence of at least {4 * kvPairs} tokens, got {seqLen}");
        if (vocabSize / 2 - 1 < kvPairs) throw new ArgumentException($"mqar: vocabulary {vocabSize} has only {vocabSize / 2 - 1} keys for {kvPairs} pairs");
        if (!(powerA > 0) || !double.IsFinite(powerA)) throw new ArgumentException($"mqar: power_a must be a positive number, got {powerA}");
        (VocabSize, SeqLen, KvPairs, PowerA, RandomNonQueries) = (vocabSize, seqLen, kvPairs, powerA, randomNonQueries);
        gapWeights = Sampling.PowerLaw(QuerySpace, powerA);
    }

    /// <summary>Tokens taken by the key-value pairs at the front.</summary>
    public int ContextSize => 2 * KvPairs;

    /// <summary>Number of possible query slots after the pairs (queries sit at even offsets there).</summary>
    public int QuerySpace => (SeqLen - ContextSize) / 2;

    public RecallExample Generate(Random rng)
    {
        int keyEnd = VocabSize / 2;
        var keys = Sampling.Distinct(rng, 1, keyEnd, KvPairs);
        var values = Sampling.Distinct(rng, keyEnd, VocabSize, KvPairs);
        var gaps = Sampling.WeightedDistinct(rng, gapWeights, KvPairs);

        var inputs = new int[SeqLen];
        var targets = Enumerable.Repeat(RecallExample.Ignore, SeqLen).ToArray();
        var filled = new bool[SeqLen];
        for (int i = 0; i < KvPairs; i++)
        {
            inputs[2 * i] = keys[i];
            inputs[2 * i + 1] = values[i];
            int query = ContextSize + 2 * gaps[i];
            inputs[query] = keys[i];
            targets[query] = values[i];
            filled[2 * i] = filled[2 * i + 1] = filled[query] = true;
        }
        if (RandomNonQueries)
            for (int t = 0; t < SeqLen; t++)
                if (!filled[t]) inputs[t] = rng.Next(VocabSize);
        return new RecallExample(inputs, targets);
    }
}
