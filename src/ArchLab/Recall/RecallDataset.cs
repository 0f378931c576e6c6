using static TorchSharp.torch;

namespace ArchLab.Recall;

/// <summary>
/// A fixed training set and a held-out validation set of one task. The two are drawn from disjoint seed streams, and any
/// validation example whose content hash is also in the training set is dropped (and replaced by a further draw), so the two
/// never share an example. <see cref="DroppedFromValidation"/> counts the drops.
/// </summary>
public sealed class RecallDataset
{
    public IRecallTask Task { get; }
    public IReadOnlyList<RecallExample> Train { get; }
    public IReadOnlyList<RecallExample> Validation { get; }
    public int DroppedFromValidation { get; }
    public int Seed { get; }

    RecallDataset(IRecallTask task, List<RecallExample> train, List<RecallExample> validation, int dropped, int seed)
    {
        (Task, Train, Validation, DroppedFromValidation, Seed) = (task, train, validation, dropped, seed);
    }

    public const int TrainStream = 0, ValidationStream = 1;

    public static RecallDataset Create(IRecallTask task, int trainExamples, int validationExamples, int seed)
    {
        if (trainExamples <= 0) throw new ArgumentException($"training examples must be positive, got {trainExamples}");
        if (validationExamples <= 0) throw new ArgumentException($"validation examples must be positive, got {validationExamples}");
        var trainRng = new Random(Sampling.DeriveSeed(seed, TrainStream));
        var train = Enumerable.Range(0, trainExamples).Select(_ => task.Generate(trainRng)).ToList();
        var trainHashes = train.Select(e => e.ContentHash()).ToHashSet();
        var validationRng = new Random(Sampling.DeriveSeed(seed, ValidationStream));
        var validation = new List<RecallExample>(validationExamples);
        int dropped = 0;
        while (validation.Count < validationExamples)
        {
            var example = task.Generate(validationRng);
            if (trainHashes.Contains(example.ContentHash()))
            {
                if (++dropped > 10 * validationExamples + 1000)
                    throw new InvalidOperationException($"{task.Name}: the task has too few distinct examples to hold out {validationExamples} unseen ones");
                continue;
            }
            validation.Add(example);
        }
        return new RecallDataset(task, train, validation, dropped, seed);
    }

    /// <summary>Training example indices of optimizer step <paramref name="step"/>: epochs of a seeded permutation.</summary>
    public int[] TrainIndices(long step, int batchSize)
    {
        var indices = new int[batchSize];
        for (int i = 0; i < batchSize; i++)
        {
            long flat = step * batchSize + i;
            long epoch = flat / Train.Count;
            indices[i] = Permutation(epoch)[flat % Train.Count];
        }
        return indices;
    }

    long cachedEpoch = -1;
    int[] cachedPermutation = [];

    int[] Permutation(long epoch)
    {
        if (epoch == cachedEpoch) return cachedPermutation;
        var rng = new Random(Sampling.DeriveSeed(Seed, 1000 + (int)epoch));
        cachedPermutation = Enumerable.Range(0, Train.Count).ToArray();
        rng.Shuffle(cachedPermutation);
        cachedEpoch = epoch;
        return cachedPermutation;
    }

    /// <summary>Inputs and targets, int64 [batch, seqLen], of the given examples.</summary>
    public static (Tensor X, Tensor Y) ToTensors(IEnumerable<RecallExample> examples)
    {
        var list = examples.ToList();
        int length = list[0].Length;
        var x = new long[list.Count * length];
        var y = new long[list.Count * length];
        for (int b = 0; b < list.Count; b++)
            for (int t = 0; t < length; t++)
            {
                x[b * length + t] = list[b].Inputs[t];
                y[b * length + t] = list[b].Targets[t];
            }
        return (tensor(x, [list.Count, length]), tensor(y, [list.Count, length]));
    }
}
