using System.Globalization;
using System.Text.Json;
using System.Text.Json.Serialization;
using ArchLab.Models;
using ArchLab.Training;

namespace ArchLab.Scaling;

/// <summary>One planned run of a sweep: its model, training settings, and the accounting the fits use. <see cref="Arch"/> is
/// the architecture entry's label (a mixer name, or a hybrid's name).</summary>
public sealed record RunPlan(
    string Id, string Arch, ModelConfig Model, TrainConfig Train, double? ComputeBudget, long? TokenBudget,
    long NonEmbeddingParams, long EmbeddingParams, long TotalParams, long FlopsPerToken)
{
    [JsonIgnore] public long Tokens => Train.Steps * Train.TokensPerStep;
    [JsonIgnore] public double Compute => (double)FlopsPerToken * Tokens;
    [JsonIgnore] public int Seed => Train.Seed;
    /// <summary>The IsoFLOP budget, or the token budget, as one number (what runs are grouped by).</summary>
    [JsonIgnore] public double Budget => ComputeBudget ?? TokenBudget!.Value;
}

/// <summary>
/// Expands a <see cref="SweepSpec"/> into its runs, cheapest first so a sweep stopped part way is useful: budget (smallest
/// first), then seed (the spec's seed, then <see cref="SweepSpec.ExtraSeeds"/>), then architecture, then size. Every
/// architecture therefore has all of its smaller budgets before any run of a larger one starts.
/// </summary>
public static class SweepPlanner
{
    /// <summary>
    /// <see cref="Plan(SweepSpec)"/>, kept in <paramref name="cachePath"/> for the next call with the same spec and the same
    /// build (every worker process plans the whole sweep to find its run; counting the shapes builds a model each).
    /// </summary>
    public static IReadOnlyList<RunPlan> Plan(SweepSpec spec, string cachePath)
    {
        string key = spec.ToJson() + "\n" + typeof(SweepPlanner).Assembly.ManifestModule.ModuleVersionId;
        try
        {
            if (File.Exists(cachePath) && JsonSerializer.Deserialize<PlanCache>(File.ReadAllText(cachePath), ModelConfig.Json) is { } cached && cached.Key == key)
                return cached.Runs;
        }
        catch (JsonException) { } // a cache from another version: plan again
        var plans = Plan(spec);
        IO.AtomicFile.WriteAllText(cachePath, JsonSerializer.Serialize(new PlanCache(key, plans.ToArray()), ModelConfig.Json));
        return plans;
    }

    sealed record PlanCache(string Key, RunPlan[] Runs);

    public static IReadOnlyList<RunPlan> Plan(SweepSpec spec)
    {
        spec.Validate();
        var cache = new Dictionary<(string, int), (long, long)>();
        var plans = new List<RunPlan>();
        foreach (var arch in spec.Architectures)
        {
            var shapes = spec.LadderOf(arch)
                .Select(s => s.TargetParams is long target
                    ? SizeLadder.ForTarget(spec, arch, target, cache)
                    : SizeLadder.Shape(spec, arch, s.Dim!.Value, s.Layers!.Value, s.Heads))
                .DistinctBy(c => (c.Dim, c.Layers, c.Heads))
                .Select(c => (Config: c, Counts: Count(c)))
                .ToList();
            var budgets = spec.ComputeBudgets is { } compute
                ? compute.Select(c => (Compute: (double?)c, Tokens: (long?)null))
                : spec.TokenBudgets!.Select(t => (Compute: (double?)null, Tokens: (long?)t));
            foreach (var (computeBudget, tokenBudget) in budgets)
                foreach (int seed in SeedsAt(spec, computeBudget ?? tokenBudget!.Value))
                    foreach (var (config, counts) in shapes)
                    {
                        long tokensPerStep = (long)spec.BatchSize * spec.SeqLen;
                        double tokens = computeBudget is double c ? c / counts.FlopsPerToken : tokenBudget!.Value;
                        int steps = (int)Math.Round(tokens / tokensPerStep);
                        if (steps < spec.MinSteps) continue;
                        double tokensPerParam = (double)steps * tokensPerStep / counts.NonEmbedding;
                        if (computeBudget is not null && (tokensPerParam < spec.MinTokensPerParam || tokensPerParam > spec.MaxTokensPerParam)) continue;
                        string budget = computeBudget is double cb ? "c" + Label(cb) : "t" + Label(tokenBudget!.Value);
                        string id = $"{arch.Label}-d{config.Dim}-l{config.Layers}-{budget}" + (seed == spec.Seed ? "" : $"-s{seed}");
                        plans.Add(new RunPlan(id, arch.Label, config, TrainFor(spec, steps) with { Seed = seed }, computeBudget, tokenBudget,
                            counts.NonEmbedding, counts.Embedding, counts.Total, counts.FlopsPerToken));
                    }
        }
        var archOrder = spec.Architectures.Select(a => a.Label).ToList();
        var seedOrder = new[] { spec.Seed }.Concat(spec.ExtraSeeds?.Seeds ?? []).ToList();
        return plans.OrderBy(p => p.Budget).ThenBy(p => seedOrder.IndexOf(p.Seed)).ThenBy(p => archOrder.IndexOf(p.Arch)).ToList();
    }

    /// <summary>The spec's seed, and the extra seeds where <see cref="ExtraSeeds.Budgets"/> names this budget.</summary>
    static IEnumerable<int> SeedsAt(SweepSpec spec, double budget) =>
        spec.ExtraSeeds is { } extra && extra.Budgets.Contains(budget) ? [spec.Seed, .. extra.Seeds] : [spec.Seed];

    /// <summary>Checkpoints every quarter of a run, and at least every this many steps, so a long run killed part way
    /// loses little.</summary>
    public const int MaxCheckpointInterval = 1000;

    public static TrainConfig TrainFor(SweepSpec spec, int steps) => new TrainConfig
    {
        Steps = steps, BatchSize = spec.BatchSize, SeqLen = spec.SeqLen, LearningRate = spec.LearningRate,
        MinLrRatio = spec.MinLrRatio, WarmupSteps = (int)Math.Round(spec.WarmupFraction * steps), WeightDecay = spec.WeightDecay,
        GradClip = spec.GradClip, EvalEvery = steps, EvalBatches = spec.EvalBatches,
        CheckpointEvery = Math.Max(1, Math.Min(steps / 4, MaxCheckpointInterval)), LogEvery = Math.Max(1, steps / spec.CurvePoints), KeepCheckpoints = 1, Seed = spec.Seed,
    }.Validate();

    static (long NonEmbedding, long Embedding, long Total, long FlopsPerToken) Count(ModelConfig config)
    {
        using var model = new LanguageModel(config);
        return (model.NonEmbeddingParameters, model.EmbeddingParameters + model.HeadParameters, model.TotalParameters,
                model.TrainingFlopsPerToken(config.ContextLength));
    }

    /// <summary>3e12, 1.5e13, 2e6: short, exact enough to name a budget.</summary>
    public static string Label(double value) => value.ToString("0.##e0", CultureInfo.InvariantCulture);
}
