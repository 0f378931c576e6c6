using ArchLab.Training;

namespace ArchLab.Recall;

/// <summary>Optimisation of one recall run: AdamW, linear warmup then cosine decay to LearningRate × MinLrRatio, through
/// the general <see cref="Trainer"/> (<see cref="ToTrainConfig"/>).</summary>
public sealed record RecallTrainConfig
{
    public int Steps { get; init; } = 1000;
    public int BatchSize { get; init; } = 32;
    public double LearningRate { get; init; } = 3e-3;
    public int WarmupSteps { get; init; } = 50;
    public double MinLrRatio { get; init; } = 0.1;
    public double WeightDecay { get; init; } = 0.1;
    /// <summary>AdamW's moment decays. 0.999 (not the language-model runs' 0.95): what every published recall grid was
    /// trained with (AdamW's default, which the recall loop used before it ran through the general trainer).</summary>
    public double Beta1 { get; init; } = 0.9;
    public double Beta2 { get; init; } = 0.999;
    public double GradClip { get; init; } = 1.0;
    /// <summary>Stops early once the query accuracy of the last <see cref="StopWindow"/> training batches reaches this (0: never).</summary>
    public double StopAtTrainAccuracy { get; init; }
    public int StopWindow { get; init; } = 20;
    public int LogEvery { get; init; } = 50;
    public int EvalBatchSize { get; init; } = 64;
    public int Seed { get; init; } = 1;

    public RecallTrainConfig Validate()
    {
        void Positive(string name, double v) { if (!(v > 0)) throw new ArgumentException($"recall: '{name}' must be positive, got {v}"); }
        Positive("steps", Steps); Positive("batch-size", BatchSize); Positive("lr", LearningRate); Positive("log-every", LogEvery);
        Positive("eval-batch-size", EvalBatchSize); Positive("stop-window", StopWindow);
        if (WarmupSteps < 0) throw new ArgumentException($"recall: 'warmup' must be ≥ 0, got {WarmupSteps}");
        if (WeightDecay < 0 || GradClip < 0) throw new ArgumentException("recall: 'weight-decay' and 'grad-clip' must be ≥ 0");
        if (MinLrRatio is < 0 or > 1) throw new ArgumentException($"recall: 'min-lr-ratio' must be in [0, 1], got {MinLrRatio}");
        if (StopAtTrainAccuracy is < 0 or > 1) throw new ArgumentException($"recall: 'stop-at' must be in [0, 1], got {StopAtTrainAccuracy}");
        if (Beta1 is < 0 or >= 1 || Beta2 is < 0 or >= 1) throw new ArgumentException("recall: 'beta1' and 'beta2' must be in [0, 1)");
        return this;
    }

    /// <summary>The trainer's settings for a run on sequences of <paramref name="seqLen"/> tokens whose validation set
    /// is <paramref name="validationBatches"/> batches: evaluated once, at the end (on the whole set), logged every
    /// <see cref="LogEvery"/> steps, never checkpointed (a study's runs are short and not resumed).</summary>
    public TrainConfig ToTrainConfig(int seqLen, int validationBatches) => new TrainConfig
    {
        Steps = Steps, BatchSize = BatchSize, GradAccum = 1, SeqLen = seqLen, LearningRate = LearningRate, MinLrRatio = MinLrRatio,
        WarmupSteps = WarmupSteps, WeightDecay = WeightDecay, Beta1 = Beta1, Beta2 = Beta2, GradClip = GradClip,
        EvalEvery = Steps, EvalBatches = validationBatches, CheckpointEvery = 0, LogEvery = LogEvery, Seed = Seed,
    }.Validate();
}
