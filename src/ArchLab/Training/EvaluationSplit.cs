using ArchLab.Data;
using static TorchSharp.torch;

namespace ArchLab.Training;

/// <summary>
/// The text <c>eval</c> scores: a corpus's validation split (the default), its train split, or all of it (a file of
/// held-out text scored whole). Served as the validation windows of an <see cref="ITrainingData"/> for <see cref="Evaluator"/>.
/// </summary>
public sealed class EvaluationSplit : ITrainingData, IDisposable
{
    public static readonly string[] Names = ["validation", "train", "all"];

    readonly TokenizedSplit tokens;
    readonly BatchSampler windows;

    EvaluationSplit(TokenizedSplit tokens, int batchSize, int seqLen)
    {
        this.tokens = tokens;
        windows = new BatchSampler(tokens.Tokens, batchSize, seqLen, seed: 0);
    }

    public long TokenCount => tokens.TokenCount;

    /// <summary>Tokenizes (or opens from the token cache) the named part of <paramref name="corpus"/>.</summary>
    /// <exception cref="ArgumentException">An unknown split name, a batch size below 1 or text too short for one window.</exception>
    public static EvaluationSplit Load(TextCorpus corpus, ITextTokenizer tokenizer, string split, int batchSize, int seqLen,
                                       string? cacheDir = null, TextWriter? log = null)
    {
        if (batchSize < 1) throw new ArgumentException($"--batch-size must be at least 1, got {batchSize}");
        if (seqLen < 1) throw new ArgumentException($"--seq-len must be at least 1, got {seqLen}");
        var (text, part) = split switch
        {
            "validation" => (corpus, CorpusSplit.Validation),
            "train" => (corpus, CorpusSplit.Train),
            // The whole text as one "validation" split of its own corpus (own content hash, own cache file).
            "all" => (new TextCorpus(corpus.Name + "-all", "", corpus.Train + corpus.Validation), CorpusSplit.Validation),
            _ => throw new ArgumentException($"--split must be one of {string.Join(", ", Names)}, got '{split}'"),
        };
        var file = TokenCache.GetOrBuild(text, part, tokenizer, cacheDir, log);
        var tokens = new TokenizedSplit(file);
        try { return new EvaluationSplit(tokens, batchSize, seqLen); }
        catch (ArgumentException e)
        {
            tokens.Dispose();
            throw new ArgumentException($"the {split} text of {corpus.Name} is too short to evaluate: {e.Message.Split('\n')[0]}");
        }
    }

    public (Tensor X, Tensor Y) TrainBatch(long step, int microStep) => throw new NotSupportedException("an evaluation split serves no training batches");

    public IEnumerable<(Tensor X, Tensor Y)> ValidationBatches(int maxBatches) => windows.EvalBatches(maxBatches);

    public double ValidationTokensPerByte => tokens.TokensPerByte;

    public void Dispose() => tokens.Dispose();
}
