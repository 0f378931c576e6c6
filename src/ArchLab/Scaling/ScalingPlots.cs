using System.Text.Json.Nodes;
using ArchLab.Reporting;

namespace ArchLab.Scaling;

/// <summary>
/// The sweep's charts (<see cref="Figure"/>s, offline HTML via <see cref="ChartFile"/>): IsoFLOP curves per architecture,
/// N_opt and D_opt against compute with fitted lines and 95% bands, and the loss–compute frontier of all architectures.
/// </summary>
public static class ScalingPlots
{
    static readonly string[] Palette = ["31,119,180", "255,127,14", "44,160,44", "214,39,40", "148,103,189", "140,86,75", "227,119,194", "127,127,127"];

    static string Rgba(int i, double alpha) => Figure.Rgba(Palette[i % Palette.Length], alpha);

    /// <summary>Final loss against N, one line per IsoFLOP budget, with the approach-2 parabola through each.</summary>
    public static Figure IsoFlop(string arch, IReadOnlyList<ScalingPoint> points, ApproachFit? isoFlop)
    {
        var traces = new List<JsonObject>();
        int i = 0;
        foreach (var g in points.GroupBy(p => p.Budget ?? p.C).OrderBy(g => g.Key))
        {
            var runs = g.OrderBy(p => p.N).ToList();
            string label = $"C = {g.Key:0.0e0}";
            traces.Add(Figure.Scatter(label, runs.Select(p => p.N), runs.Select(p => p.Loss), "markers", Rgba(i, 1)));
            if (isoFlop?.Optima.FirstOrDefault(o => o.Compute == g.Key) is { Parabola: { } c } optimum)
            {
                double lo = Math.Log(runs[0].N), hi = Math.Log(runs[^1].N);
                var xs = Enumerable.Range(0, 41).Select(k => lo + (hi - lo) * k / 40).ToList();
                traces.Add(Figure.Scatter($"parabola, N_opt = {optimum.NOpt:0.0e0}", xs.Select(Math.Exp), xs.Select(x => c[0] + c[1] * x + c[2] * x * x),
                    "lines", Rgba(i, 0.8), dash: "dash"));
            }
            i++;
        }
        return Finish(traces, $"IsoFLOP curves: {arch}", "parameters N (log)", "final validation loss (nats/token)", logY: false);
    }

    /// <summary>N_opt and D_opt against compute: optima per budget as markers, each approach's fitted line with its 95% band.</summary>
    public static Figure Optimal(string arch, IEnumerable<ApproachFit> approaches)
    {
        var traces = new List<JsonObject>();
        int i = 0;
        foreach (var fit in approaches)
        {
            string tag = fit.Method.Split(':')[0];
            if (fit.Band.Length > 0)
            {
                var c = fit.Band.Select(b => b.Compute).ToList();
                traces.AddRange(Band(c, fit.Band.Select(b => b.NLow), fit.Band.Select(b => b.NHigh), i, $"{tag} N_opt 95%"));
                traces.Add(Figure.Scatter($"{tag}: N_opt ∝ C^{fit.NExponent.Value:F2}", c, fit.Band.Select(b => b.NOpt), "lines", Rgba(i, 1)));
                traces.AddRange(Band(c, fit.Band.Select(b => b.DLow), fit.Band.Select(b => b.DHigh), i, $"{tag} D_opt 95%"));
                traces.Add(Figure.Scatter($"{tag}: D_opt ∝ C^{fit.DExponent.Value:F2}", c, fit.Band.Select(b => b.DOpt), "lines", Rgba(i, 1), dash: "dash"));
            }
            if (fit.Optima.Length > 0)
            {
                traces.Add(Figure.Scatter($"{tag}: N_opt per budget", fit.Optima.Select(o => o.Compute), fit.Optima.Select(o => o.NOpt), "markers", Rgba(i, 1)));
                var d = Figure.Scatter($"{tag}: D_opt per budget", fit.Optima.Select(o => o.Compute), fit.Optima.Select(o => o.DOpt), "markers", Rgba(i, 1));
                d["marker"]!["symbol"] = "diamond";
                traces.Add(d);
            }
            i++;
        }
        return Finish(traces, $"Compute-optimal parameters (solid) and tokens (dashed): {arch}", "training compute C (FLOPs, log)", "N_opt, D_opt (log)", logY: true);
    }

    /// <summary>Every run's final loss at its own compute (faint markers), and each architecture's envelope (lines): per
    /// budget the best size (its loss averaged over seeds), at that run's own compute, kept where it beats every smaller
    /// budget. Runs of one budget differ in compute only by the rounding of their steps, so a line through all runs would
    /// fall vertically within each budget; one point per budget does not.</summary>
    public static Figure Frontier(IReadOnlyDictionary<string, IReadOnlyList<ScalingPoint>> byArch)
    {
        var traces = new List<JsonObject>();
        int i = 0;
        foreach (var (arch, points) in byArch)
        {
            traces.Add(Figure.Scatter($"{arch} runs", points.Select(p => p.C), points.Select(p => p.Loss), "markers", Rgba(i, 0.35)));
            var frontier = FrontierPoints(points);
            traces.Add(Figure.Scatter($"{arch} frontier", frontier.Select(p => p.C), frontier.Select(p => p.Loss), "lines", Rgba(i, 1)));
            i++;
        }
        return Finish(traces, "Loss–compute frontier", "training compute C (FLOPs, log)", "final validation loss (nats/token)", logY: false);
    }

    /// <summary>The envelope the frontier chart draws: per budget the best size (mean loss over seeds) at its own compute,
    /// in order of budget, leaving out a budget whose best is no better than a smaller budget's.</summary>
    public static List<ScalingPoint> FrontierPoints(IEnumerable<ScalingPoint> points)
    {
        var frontier = new List<ScalingPoint>();
        foreach (var budget in ChinchillaFits.ByBudget(LadderCheck.SeedMeans(points)).OrderBy(g => g.Key))
        {
            var best = budget.MinBy(p => p.Loss)!;
            if (frontier.Count == 0 || best.Loss < frontier[^1].Loss) frontier.Add(best);
        }
        return frontier;
    }

    static IEnumerable<JsonObject> Band(List<double> x, IEnumerable<double> low, IEnumerable<double> high, int color, string name)
    {
        var lo = low.ToList(); var hi = high.ToList();
        if (lo.Any(v => !double.IsFinite(v)) || hi.Any(v => !double.IsFinite(v))) yield break;
        yield return Figure.Scatter(name, x, lo, "lines", Rgba(color, 0), showLegend: false);
        yield return Figure.Scatter(name, x, hi, "lines", Rgba(color, 0), fill: "tonexty", fillColor: Rgba(color, 0.15));
    }

    static Figure Finish(List<JsonObject> traces, string title, string xTitle, string yTitle, bool logY) =>
        new(title, new JsonArray(traces.Select(t => (JsonNode)t).ToArray()),
            new JsonObject { ["xaxis"] = Figure.Axis(xTitle, log: true), ["yaxis"] = Figure.Axis(yTitle, logY) });
}
