using System.Text.Json;
using System.Text.Json.Serialization;
using ArchLab.Models;

namespace ArchLab.Training;

/// <summary>Everything that shapes a training run besides the model. Saved in every checkpoint; resuming checks it is unchanged.</summary>
public sealed record TrainConfig
{
    public int Steps { get; init; } = 600;
    public int BatchSize { get; init; } = 16;
    /// <summary>Micro-batches per optimizer step (gradient accumulation).</summary>
    public int GradAccum { get; init; } = 1;
    public int SeqLen { get; init; } = 256;
    public double LearningRate { get; init; } = 3e-3;
    /// <summary>Cosine decay ends at LearningRate × MinLrRatio.</summary>
    public double MinLrRatio { get; init; } = 0.1;
    public int WarmupSteps { get; init; } = 50;
    public double WeightDecay { get; init; } = 0.1;
    public double Beta1 { get; init; } = 0.9;
    public double Beta2 { get; init; } = 0.95;
    /// <summary>Global gradient-norm clip; 0 turns clipping off.</summary>
    public double GradClip { get; init; } = 1.0;
    public int EvalEvery { get; init; } = 100;
    public int EvalBatches { get; init; } = 20;
    /// <summary>Steps between checkpoints (and one at the end); 0: none, for short runs nobody resumes (a recall study's).</summary>
    public int CheckpointEvery { get; init; } = 100;
    public int LogEvery { get; init; } = 10;
    /// <summary>Checkpoints kept on disk (the newest ones).</summary>
    public int KeepCheckpoints { get; init; } = 2;
    public int Seed { get; init; } = 1337;
    /// <summary>bf16 matmuls with float32 weights and optimizer (see Runtime.Autocast).</summary>
    public bool Bf16 { get; init; }

    [JsonIgnore] public long TokensPerStep => (long)BatchSize * GradAccum * SeqLen;

    public TrainConfig Validate()
    {
        void Positive(string name, double v) { if (!(v > 0)) throw new ConfigException($"train config: '{name}' must be positive, got {v}"); }
        void NonNegative(string name, double v) { if (!(v >= 0)) throw new ConfigException($"train config: '{name}' must be ≥ 0, got {v}"); }
        Positive("steps", Steps); Positive("batch_size", BatchSize); Positive("grad_accum", GradAccum); Positive("seq_len", SeqLen);
        Positive("learning_rate", LearningRate); Positive("eval_every", EvalEvery); Positive("eval_batches", EvalBatches);
        NonNegative("checkpoint_every", CheckpointEvery); Positive("log_every", LogEvery); Positive("keep_checkpoints", KeepCheckpoints);
        NonNegative("warmup_steps", WarmupSteps); NonNegative("weight_decay", WeightDecay); NonNegative("grad_clip", GradClip);
        if (MinLrRatio is < 0 or > 1) throw new ConfigException($"train config: 'min_lr_ratio' must be in [0, 1], got {MinLrRatio}");
        if (Beta1 is < 0 or >= 1 || Beta2 is < 0 or >= 1) throw new ConfigException("train config: 'beta1' and 'beta2' must be in [0, 1)");
        return this;
    }

    public string ToJson() => JsonSerializer.Serialize(this, ModelConfig.Json);

    public static TrainConfig FromJson(string json, string source)
    {
        try { return (JsonSerializer.Deserialize<TrainConfig>(json, ModelConfig.Json) ?? throw new ConfigException($"{source}: empty")).Validate(); }
        catch (JsonException e) { throw new ConfigException($"{source}: invalid train config: {IO.JsonErrors.Describe(e)}"); }
    }
}
