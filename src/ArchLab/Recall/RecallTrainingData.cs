using ArchLab.Training;
using static TorchSharp.torch;

namespace ArchLab.Recall;

/// <summary>A <see cref="RecallDataset"/> served to the <see cref="Trainer"/>: step s trains on the dataset's batch s
/// (<see cref="RecallDataset.TrainIndices"/>), and validation is the whole held-out set in batches.</summary>
public sealed class RecallTrainingData(RecallDataset data, int batchSize, int evalBatchSize) : ITrainingData
{
    public RecallDataset Dataset { get; } = data;

    /// <summary>Batches that cover the whole validation set.</summary>
    public int ValidationBatchCount => (Dataset.Validation.Count + evalBatchSize - 1) / evalBatchSize;

    public (Tensor X, Tensor Y) TrainBatch(long step, int microStep)
    {
        // The recall studies have always taken one batch per step; a second micro-batch would need its own indices.
        if (microStep != 0) throw new NotSupportedException("recall training has no gradient accumulation (grad_accum 1)");
        return RecallDataset.ToTensors(Dataset.TrainIndices(step, batchSize).Select(i => Dataset.Train[i]));
    }

    public IEnumerable<(Tensor X, Tensor Y)> ValidationBatches(int maxBatches)
    {
        for (int b = 0; b < Math.Min(maxBatches, ValidationBatchCount); b++)
            yield return RecallDataset.ToTensors(Dataset.Validation.Skip(b * evalBatchSize).Take(evalBatchSize));
    }

    /// <summary>Synthetic ids are not text: there are no bits per byte (NaN; the metrics log writes null).</summary>
    public double ValidationTokensPerByte => double.NaN;
}
