namespace ArchLab.Recall;

/// <summary>Optimisation of one recall run: AdamW, linear warmup then cosine decay to LearningRate × MinLrRatio.</summary>
public sealed record RecallTrainConfig
{
    public int Steps { get; init; } = 1000;
    public int BatchSize { get; init; } = 32;
    public double LearningRate { get; init; } = 3e-3;
    public int WarmupSteps { get; init; } = 50;
    public double MinLrRatio { get; init; } = 0.1;
    public double WeightDecay { get; init; } = 0.1;
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
        return this;
    }
}
