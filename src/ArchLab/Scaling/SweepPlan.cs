using System.Globalization;
using ArchLab.Models;
using ArchLab.Training;

namespace ArchLab.Scaling;

/// <summary>One planned run of a sweep: its model, training settings, and the accounting the fits use.</summary>
public sealed record RunPlan(
    string Id, string Arch, ModelConfig Model, TrainConfig Train, double? ComputeBudget, long? TokenBudget,
    long NonEmbeddingParams, long EmbeddingParams, long TotalParams, long FlopsPerToken)
{
    public long Tokens => Train.Steps * Train.TokensPerStep;
    public double Compute => (double)FlopsPerToken * Tokens;
}

/// <summary>Expands a <see cref="SweepSpec"/> into its runs, in a fixed order: budget (smallest first), architecture, size,
/// so a sweep stopped part way has every architecture at its smaller budgets.</summary>
public static class SweepPlanner
{
    public static IReadOnlyList<RunPlan> Plan(SweepSpec spec)
    {
        spec.Validate();
        var cache = new Dictionary<(string, int), (long, long)>();
        var plans = new List<RunPlan>();
        foreach (var arch in spec.Architectures)
        {
            var shapes = spec.Sizes
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
                foreach (var (config, counts) in shapes)
                {
                    long tokensPerStep = (long)spec.BatchSize * spec.SeqLen;
                    double tokens = computeBudget is double c ? c / counts.FlopsPerToken : tokenBudget!.Value;
                    int steps = (int)Math.Round(tokens / tokensPerStep);
                    if (steps < spec.MinSteps) continue;
                    string budget = computeBudget is double cb ? "c" + Label(cb) : "t" + Label(tokenBudget!.Value);
                    string id = $"{config.Arch}-d{config.Dim}-l{config.Layers}-{budget}";
                    plans.Add(new RunPlan(id, config.Arch, config, TrainFor(spec, steps), computeBudget, tokenBudget,
                        counts.NonEmbedding, counts.Embedding, counts.Total, counts.FlopsPerToken));
                }
        }
        return plans.OrderBy(p => p.ComputeBudget ?? p.TokenBudget!.Value).ThenBy(p => Array.IndexOf(spec.Architectures, p.Arch)).ToList();
    }

    public static TrainConfig TrainFor(SweepSpec spec, int steps) => new TrainConfig
    {
        Steps = steps, BatchSize = spec.BatchSize, SeqLen = spec.SeqLen, LearningRate = spec.LearningRate,
        MinLrRatio = spec.MinLrRatio, WarmupSteps = (int)Math.Round(spec.WarmupFraction * steps), WeightDecay = spec.WeightDecay,
        GradClip = spec.GradClip, EvalEvery = steps, EvalBatches = spec.EvalBatches,
        CheckpointEvery = Math.Max(1, steps / 4), LogEvery = Math.Max(1, steps / spec.CurvePoints), KeepCheckpoints = 1, Seed = spec.Seed,
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
