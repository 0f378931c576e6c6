using ArchLab.Data;
using static TorchSharp.torch;

namespace ArchLab.Training;

/// <summary>A tokenized corpus served to the trainer: random training windows by (seed, step), fixed validation windows.</summary>
public sealed class CorpusTrainingData(TokenizedCorpus corpus, int batchSize, int seqLen, long seed) : ITrainingData
{
    readonly BatchSampler train = new(corpus.Train.Tokens, batchSize, seqLen, seed);
    readonly BatchSampler validation = new(corpus.Validation.Tokens, batchSize, seqLen, seed);

    public TokenizedCorpus Corpus { get; } = corpus;

    public (Tensor X, Tensor Y) TrainBatch(long step, int microStep) => train.GetBatch(step, microStep);

    public IEnumerable<(Tensor X, Tensor Y)> ValidationBatches(int maxBatches) => validation.EvalBatches(maxBatches);

    public double ValidationTokensPerByte => Corpus.Validation.TokensPerByte;
}
