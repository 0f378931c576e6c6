using static TorchSharp.torch;

namespace ArchLab.Training;

/// <summary>What the trainer needs from a corpus: deterministic batches and a fixed validation set.</summary>
public interface ITrainingData
{
    /// <summary>Inputs and next-token targets, int64 [batch, seqLen], a pure function of (seed, step, microStep).</summary>
    (Tensor X, Tensor Y) TrainBatch(long step, int microStep);

    /// <summary>The same validation windows every time.</summary>
    IEnumerable<(Tensor X, Tensor Y)> ValidationBatches(int maxBatches);

    /// <summary>Validation tokens per UTF-8 byte, to turn loss per token into bits per byte.</summary>
    double ValidationTokensPerByte { get; }
}
