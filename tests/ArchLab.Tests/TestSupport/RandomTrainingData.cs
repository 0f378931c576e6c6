using ArchLab.Training;
using static TorchSharp.torch;

namespace ArchLab.Tests.TestSupport;

/// <summary>Uniform random tokens for trainer tests: each batch is a pure function of (step, micro-step), as the trainer's
/// exact resume requires; validation batches use negative steps.</summary>
sealed class RandomTrainingData(int vocab, int batch, int seqLen, int seedOffset = 0) : ITrainingData
{
    public (Tensor X, Tensor Y) TrainBatch(long step, int microStep)
    {
        var t = randint(0, vocab, [batch, seqLen + 1], generator: new Generator((ulong)(step * 31 + microStep + seedOffset)));
        return (t[.., ..^1], t[.., 1..]);
    }

    public IEnumerable<(Tensor X, Tensor Y)> ValidationBatches(int maxBatches) =>
        Enumerable.Range(0, maxBatches).Select(i => TrainBatch(-1 - i, 0));

    public double ValidationTokensPerByte => 1.0;
}
