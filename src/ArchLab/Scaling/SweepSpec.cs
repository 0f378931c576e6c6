using System.Text.Json;
using System.Text.Json.Serialization;
using ArchLab.Models;

namespace ArchLab.Scaling;

/// <summary>
/// A scaling sweep, read from a JSON file (snake_case, like <see cref="ModelConfig"/>): every architecture × every size ×
/// every budget is one training run. Budgets are either token counts (<see cref="TokenBudgets"/>) or training compute in
/// FLOPs (<see cref="ComputeBudgets"/>, IsoFLOP: tokens = C / training FLOPs per token of that model). Everything else is
/// shared by all runs; the learning-rate schedule (warmup + cosine) spans each run's own length.
/// </summary>
public sealed partial record SweepSpec
{
    /// <summary>Names the sweep (and its results folder, experiments/&lt;name&gt;/, by convention).</summary>
    public string Name { get; init; } = "";
    public string[] Architectures { get; init; } = [];
    public SweepSize[] Sizes { get; init; } = [];
    public double[]? ComputeBudgets { get; init; }
    public long[]? TokenBudgets { get; init; }

    /// <summary>'brown' or text files/folders, as for <c>archlab train --data</c>.</summary>
    public string[] Data { get; init; } = ["brown"];
    public string Tokenizer { get; init; } = "byte";
    /// <summary>Model vocabulary; must hold the tokenizer's (256 for bytes).</summary>
    public int VocabSize { get; init; } = 256;
    public int SeqLen { get; init; } = 64;
    public int BatchSize { get; init; } = 8;
    public double LearningRate { get; init; } = 3e-3;
    public double MinLrRatio { get; init; } = 0.1;
    /// <summary>Warmup as a fraction of each run's steps.</summary>
    public double WarmupFraction { get; init; } = 0.05;
    public double WeightDecay { get; init; } = 0.1;
    public double GradClip { get; init; } = 1.0;
    public int EvalBatches { get; init; } = 16;
    /// <summary>Training-loss points recorded per run (the loss curve).</summary>
    public int CurvePoints { get; init; } = 20;
    public int Seed { get; init; } = 1337;
    /// <summary>Runs that would train fewer steps are left out of the plan (IsoFLOP budgets too small for a size).</summary>
    public int MinSteps { get; init; } = 20;
    /// <summary>Size ladder: width per attention head, and the preferred width/depth ratio (dim / layers).</summary>
    public int HeadDim { get; init; } = 32;
    public int DimMultiple { get; init; } = 16;
    public double AspectRatio { get; init; } = 32;
    /// <summary>libtorch threads per run (worker process).</summary>
    public int Threads { get; init; } = 1;

    [System.Text.RegularExpressions.GeneratedRegex("^[A-Za-z0-9_-][A-Za-z0-9._-]{0,99}$")]
    private static partial System.Text.RegularExpressions.Regex SafeName();

    public SweepSpec Validate()
    {
        static ConfigException Bad(string message) => new($"sweep spec: {message}");
        // The name becomes a folder and a Slurm job name in a shell script: only characters that need no quoting anywhere.
        if (Name is null || !SafeName().IsMatch(Name))
            throw Bad($"'name' must be 1–100 letters, digits, '.', '_' or '-' (not starting with '.'), got {System.Text.Json.JsonSerializer.Serialize(Name)}");
        if (Architectures.Length == 0) throw Bad("'architectures' is empty");
        foreach (var a in Architectures)
            if (!Mixers.MixerRegistry.IsKnown(a)) throw Bad($"unknown architecture '{a}' (known: {string.Join(", ", Mixers.MixerRegistry.Names)})");
        if (Sizes.Length == 0) throw Bad("'sizes' is empty");
        foreach (var s in Sizes) s.Validate();
        if ((ComputeBudgets is null) == (TokenBudgets is null)) throw Bad("give exactly one of 'compute_budgets' and 'token_budgets'");
        if (ComputeBudgets is { } c && (c.Length == 0 || c.Any(x => !(x > 0) || !double.IsFinite(x)))) throw Bad("'compute_budgets' must be positive FLOP counts");
        if (TokenBudgets is { } t && (t.Length == 0 || t.Any(x => x <= 0))) throw Bad("'token_budgets' must be positive token counts");
        void Positive(string name, double v) { if (!(v > 0)) throw Bad($"'{name}' must be positive, got {v}"); }
        Positive("vocab_size", VocabSize); Positive("seq_len", SeqLen); Positive("batch_size", BatchSize);
        Positive("learning_rate", LearningRate); Positive("eval_batches", EvalBatches); Positive("curve_points", CurvePoints);
        Positive("min_steps", MinSteps); Positive("head_dim", HeadDim); Positive("dim_multiple", DimMultiple);
        Positive("aspect_ratio", AspectRatio); Positive("threads", Threads);
        if (WarmupFraction is < 0 or >= 1) throw Bad($"'warmup_fraction' must be in [0, 1), got {WarmupFraction}");
        if (MinLrRatio is < 0 or > 1) throw Bad($"'min_lr_ratio' must be in [0, 1], got {MinLrRatio}");
        return this;
    }

    public string ToJson() => JsonSerializer.Serialize(this, ModelConfig.Json);

    public static SweepSpec FromJson(string json, string source = "sweep spec")
    {
        try { return (JsonSerializer.Deserialize<SweepSpec>(json, ModelConfig.Json) ?? throw new ConfigException($"{source}: empty")).Validate(); }
        catch (JsonException e) { throw new ConfigException($"{source}: invalid sweep spec: {IO.JsonErrors.Describe(e)}"); }
    }

    public static SweepSpec Load(string path)
    {
        if (!File.Exists(path)) throw new ArgumentException($"sweep spec '{path}' does not exist");
        return FromJson(IO.InputFile.ReadAllText(path, "sweep spec"), path);
    }
}

/// <summary>One rung of the size ladder: a target non-embedding parameter count, or an explicit shape.</summary>
public sealed record SweepSize
{
    public long? TargetParams { get; init; }
    public int? Dim { get; init; }
    public int? Layers { get; init; }
    public int? Heads { get; init; }

    public void Validate()
    {
        bool target = TargetParams is not null, shape = Dim is not null || Layers is not null;
        if (target == shape) throw new ConfigException("sweep spec: each size gives either 'target_params' or 'dim' and 'layers'");
        if (target && TargetParams <= 0) throw new ConfigException($"sweep spec: 'target_params' must be positive, got {TargetParams}");
        if (shape && (Dim is not > 0 || Layers is not > 0)) throw new ConfigException("sweep spec: an explicit size needs positive 'dim' and 'layers'");
    }
}
