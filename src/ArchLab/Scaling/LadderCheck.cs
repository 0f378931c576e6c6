namespace ArchLab.Scaling;

/// <summary>A budget of an architecture whose best size is the smallest or largest rung run there (or that has too few
/// rungs to tell): its optimum is not bracketed, and approaches 1–2 there rest on an edge of the ladder.</summary>
public sealed record LadderEnd(string Arch, double Budget, double BestN, string Where, string Basis, int Sizes)
{
    public override string ToString() => Where == "too few sizes"
        ? $"{Arch} at {SweepPlanner.Label(Budget)}: only {Sizes} size(s), fewer than {LadderCheck.MinSizes}, cannot bracket the optimum"
        : $"{Arch} at {SweepPlanner.Label(Budget)}: {Basis} best size N = {BestN:N0} is the {Where} of its {Sizes} sizes";
}

/// <summary>
/// Finds the budgets whose optimum sits at an end of the ladder. <see cref="Measured"/> uses final losses (averaged over
/// seeds per size); <see cref="Planned"/> uses them where every size of a budget has finished, and otherwise the size
/// whose tokens per non-embedding parameter is nearest <see cref="SweepSpec.PlannedTokensPerParam"/>.
/// </summary>
public static class LadderCheck
{
    /// <summary>Fewer rungs than this at a budget cannot bracket an optimum (a parabola needs three).</summary>
    public const int MinSizes = 3;

    public static IReadOnlyList<LadderEnd> Measured(string arch, IEnumerable<ScalingPoint> points) =>
        ChinchillaFits.ByBudget(SeedMeans(points)).OrderBy(g => g.Key)
            .Select(g => Check(arch, g.Key, g.Select(p => (p.N, p.Loss)).ToList(), "measured", lowerIsBetter: true))
            .OfType<LadderEnd>().ToList();

    public static IReadOnlyList<LadderEnd> Planned(SweepSpec spec, IReadOnlyList<RunPlan> plans, IReadOnlyList<RunResult> finished)
    {
        var lossById = finished.GroupBy(r => r.Id).ToDictionary(g => g.Key, g => g.First().FinalValLoss);
        var ends = new List<LadderEnd>();
        foreach (var g in plans.GroupBy(p => (p.Arch, p.Budget)).OrderBy(g => g.Key.Budget))
        {
            var sizes = g.GroupBy(p => p.NonEmbeddingParams).ToList();
            var losses = sizes.Select(s => s.Where(p => lossById.ContainsKey(p.Id)).Select(p => lossById[p.Id]).ToList()).ToList();
            LadderEnd? end = losses.All(l => l.Count > 0)
                ? Check(g.Key.Arch, g.Key.Budget, sizes.Select((s, i) => ((double)s.Key, losses[i].Average())).ToList(), "measured", lowerIsBetter: true)
                : Check(g.Key.Arch, g.Key.Budget, sizes.Select(s => ((double)s.Key,
                      Math.Abs(Math.Log((double)s.First().Tokens / s.Key / spec.PlannedTokensPerParam)))).ToList(),
                      $"planned (tokens/param nearest {spec.PlannedTokensPerParam:G})", lowerIsBetter: true);
            if (end is not null) ends.Add(end);
        }
        return ends;
    }

    /// <summary>Null when the best of <paramref name="sizes"/> (N, score) has a smaller and a larger size beside it.</summary>
    static LadderEnd? Check(string arch, double budget, List<(double N, double Score)> sizes, string basis, bool lowerIsBetter)
    {
        var sorted = sizes.OrderBy(s => s.N).ToList();
        int best = 0;
        for (int i = 1; i < sorted.Count; i++)
            if (lowerIsBetter ? sorted[i].Score < sorted[best].Score : sorted[i].Score > sorted[best].Score) best = i;
        string? where = sorted.Count < MinSizes ? "too few sizes"
                      : best == 0 ? "smallest"
                      : best == sorted.Count - 1 ? "largest" : null;
        return where is null ? null : new LadderEnd(arch, budget, sorted[best].N, where, basis, sorted.Count);
    }

    /// <summary>Runs of the same size and budget (other seeds) merged into one point with their mean loss.</summary>
    public static List<ScalingPoint> SeedMeans(IEnumerable<ScalingPoint> points) =>
        points.GroupBy(p => (p.Budget, p.N, p.D))
            .Select(g => g.First() with { Loss = g.Average(p => p.Loss) })
            .ToList();
}
