using System.Text.Json;
using ArchLab.IO;
using ArchLab.Models;
using ArchLab.Reporting;

namespace ArchLab.Scaling;

/// <summary>The three Chinchilla fits of one architecture.</summary>
/// <param name="LadderEnds">Budgets whose best size (mean over seeds) is the smallest or largest run there, or that have too
/// few sizes: their optimum is not bracketed.</param>
public sealed record ArchitectureFits(string Arch, int Runs, string Parameters, ApproachFit? Approach1, ApproachFit? Approach2, ApproachFit? Approach3,
    string[] Problems, string[]? LadderEnds = null);

/// <summary>
/// Reads a sweep folder's <c>runs.jsonl</c>, fits every architecture (<see cref="ChinchillaFits"/>), and writes
/// <c>fits.json</c>, <c>fits.csv</c> and the charts (<c>isoflop-&lt;arch&gt;.html</c>, <c>optimal-&lt;arch&gt;.html</c>,
/// <c>frontier.html</c>) and <c>comparison.md</c> (<see cref="ExponentComparison"/>) into the same folder; with total
/// parameters, <c>fits-total.json</c>, <c>isoflop-total-&lt;arch&gt;.html</c>, <c>comparison-total.md</c> and so on.
/// </summary>
public static class SweepFitter
{
    /// <param name="maxBudget">When set, only runs of budgets up to this one are fitted (the completed budgets of a sweep
    /// still running).</param>
    public static IReadOnlyList<ArchitectureFits> Fit(string sweepDir, ChinchillaFits.Options options, bool totalParams, string command, TextWriter? log = null,
        double? maxBudget = null)
    {
        string runsPath = Path.Combine(sweepDir, "runs.jsonl");
        if (!File.Exists(runsPath)) throw new ArgumentException($"{sweepDir} has no runs.jsonl (run `archlab sweep run` first)");
        var runs = new RunsFile(runsPath).Read();
        string tag = FileTag(totalParams);
        if (maxBudget is double max)
        {
            int all = runs.Count;
            runs = runs.Where(r => (r.ComputeBudget ?? r.TokenBudget ?? r.Compute) <= max * (1 + 1e-9)).ToList();
            log?.WriteLine($"--max-budget {SweepPlanner.Label(max)}: fitting {runs.Count} of the {all} runs");
        }
        if (runs.Count == 0) throw new ArgumentException($"{runsPath} holds no finished runs" + (maxBudget is null ? "" : " at or below --max-budget"));
        var byArch = runs.GroupBy(r => r.Arch).ToDictionary(g => g.Key, g => (IReadOnlyList<ScalingPoint>)g.Select(r => ScalingPoint.From(r, totalParams)).ToList());
        var results = new List<ArchitectureFits>();
        foreach (var (arch, points) in byArch)
        {
            var problems = new List<string>();
            ApproachFit? Try(string name, Func<ApproachFit> fit)
            {
                try { return fit(); }
                catch (Exception e) when (e is ArgumentException or InvalidOperationException) { problems.Add($"{name}: {e.Message}"); return null; }
            }
            var clock = System.Diagnostics.Stopwatch.StartNew();
            int budgets = ChinchillaFits.ByBudget(points).Count(), shapes = LadderCheck.SeedMeans(points).Count;
            log?.WriteLine($"{arch}: {points.Count} runs ({shapes} size × budget pairs over {budgets} budgets); approaches 1 and 2 ({options.Bootstrap} bootstrap resamples)...");
            var a1 = Try("approach 1", () => ChinchillaFits.Envelope(points, options));
            var a2 = Try("approach 2", () => ChinchillaFits.IsoFlop(points, options));
            log?.WriteLine($"  approach 3: {options.ParametricGrid?.Count ?? ParametricLossFit.DefaultGrid().Count} L-BFGS starts, then {options.ParametricBootstrap} bootstrap refits...");
            var a3 = Try("approach 3", () => ChinchillaFits.Parametric(points, options));
            var ends = LadderCheck.Measured(arch, points).Select(e => e.ToString()).ToArray();
            var fits = new ArchitectureFits(arch, points.Count, totalParams ? "total" : "non_embedding", a1, a2, a3, problems.ToArray(), ends);
            results.Add(fits);
            log?.WriteLine($"{arch}: {points.Count} runs, fitted in {clock.Elapsed.TotalSeconds:F0} s");
            foreach (var a in new[] { a1, a2, a3 }.OfType<ApproachFit>())
                log?.WriteLine($"  {a.Method.Split(':')[0]}: a = {a.NExponent}, b = {a.DExponent}, tokens/param at C = {a.ReferenceCompute:0.0e0}: {a.TokensPerParam}" +
                               (a.Parametric is { } p ? $"; E = {p.E.Value:F3}, α = {p.Alpha}, β = {p.Beta}, a at C ∝ N·D: {p.ProportionalComputeNExponent}" : "") +
                               (a.BootstrapOptimaLeftOut > 0 ? $"; {a.BootstrapOptimaLeftOut} budget optima left out over {options.Bootstrap} resamples" : "") +
                               (a.Note is { } n && a.Band.Length == 0 ? $" ({n})" : ""));
            foreach (var p in problems) log?.WriteLine($"  {p}");
            log?.WriteLine(ends.Length == 0 ? "  every budget's best size has a smaller and a larger size beside it"
                                            : $"  {ends.Length} budget(s) whose optimum the ladder does not bracket:");
            foreach (var e in ends) log?.WriteLine($"    {e}");
            ChartFile.Save(ScalingPlots.IsoFlop(arch, points, a2), Path.Combine(sweepDir, $"isoflop{tag}-{arch}.html"), png: false);
            ChartFile.Save(ScalingPlots.Optimal(arch, new[] { a1, a2, a3 }.OfType<ApproachFit>()), Path.Combine(sweepDir, $"optimal{tag}-{arch}.html"), png: false);
        }
        ChartFile.Save(ScalingPlots.Frontier(byArch), Path.Combine(sweepDir, "frontier.html"), png: false);
        AtomicFile.WriteAllText(Path.Combine(sweepDir, $"fits{tag}.json"), JsonSerializer.Serialize(new { command, runs = runs.Count, fits = results }, FitJson));
        var table = new CsvTable("arch", "runs", "approach", "n_exponent_a", "a_low", "a_high", "d_exponent_b", "b_low", "b_high",
            "reference_compute", "tokens_per_param", "tpp_low", "tpp_high", "bootstrap_fits", "unbracketed_budgets");
        table.Comment($"command: {command}");
        table.Comment($"parameters: {(totalParams ? "total" : "non-embedding")}; intervals: bootstrap 95% percentile");
        foreach (var f in results)
            foreach (var (name, a) in new[] { ("1", f.Approach1), ("2", f.Approach2), ("3", f.Approach3) })
                if (a is not null && a.Band.Length > 0)
                    table.Add(f.Arch, f.Runs, name, a.NExponent.Value, a.NExponent.Low, a.NExponent.High, a.DExponent.Value, a.DExponent.Low, a.DExponent.High,
                        a.ReferenceCompute, a.TokensPerParam.Value, a.TokensPerParam.Low, a.TokensPerParam.High, a.BootstrapFits, f.LadderEnds?.Length ?? 0);
        table.Save(Path.Combine(sweepDir, $"fits{tag}.csv"));
        string comparison = ExponentComparison.Markdown(results, totalParams ? "total" : "non-embedding", command);
        AtomicFile.WriteAllText(Path.Combine(sweepDir, $"comparison{tag}.md"), comparison);
        log?.WriteLine();
        log?.Write(comparison);
        return results;
    }

    /// <summary>What the output files of a fit with total parameters have in their names ("fits-total.json"), so the fits
    /// with non-embedding and with total N sit side by side. The frontier (loss against compute) is the same for both.</summary>
    public static string FileTag(bool totalParams) => totalParams ? "-total" : "";

    static readonly JsonSerializerOptions FitJson = new(ModelConfig.Json)
    {
        NumberHandling = System.Text.Json.Serialization.JsonNumberHandling.AllowNamedFloatingPointLiterals,
    };
}
