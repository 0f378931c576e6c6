namespace ArchLab.Scaling;

/// <summary>Compute-optimal scaling of one approach: N_opt = kN·C^a, D_opt = kD·C^b, with bootstrap intervals.</summary>
public sealed record ApproachFit
{
    public string Method { get; init; } = "";
    public Estimate NExponent { get; init; } = new(double.NaN, double.NaN, double.NaN);
    public Estimate DExponent { get; init; } = new(double.NaN, double.NaN, double.NaN);
    /// <summary>ln kN and ln kD of the fitted lines.</summary>
    public double LogNCoefficient { get; init; }
    public double LogDCoefficient { get; init; }
    /// <summary>Compute at which <see cref="TokensPerParam"/> is evaluated (the largest budget of the sweep).</summary>
    public double ReferenceCompute { get; init; }
    public Estimate TokensPerParam { get; init; } = new(double.NaN, double.NaN, double.NaN);
    /// <summary>The optimum per compute budget the lines were fitted to: (C, N_opt, D_opt).</summary>
    public OptimumPoint[] Optima { get; init; } = [];
    /// <summary>Bootstrap resamples that gave a fit (others had too few distinct budgets or no parabola minimum).</summary>
    public int BootstrapFits { get; init; }
    /// <summary>The exponent a of every bootstrap fit, in resample order: what <see cref="ExponentComparison"/> pairs to
    /// tell whether two architectures' exponents differ.</summary>
    public double[] NExponentSamples { get; init; } = [];
    /// <summary>Compute grid with the fitted N_opt and D_opt and their pointwise 95% bands, for plots.</summary>
    public BandPoint[] Band { get; init; } = [];
    public ParametricLossResult? Parametric { get; init; }
    public string? Note { get; init; }

    public double NOpt(double c) => Math.Exp(LogNCoefficient + NExponent.Value * Math.Log(c));
    public double DOpt(double c) => Math.Exp(LogDCoefficient + DExponent.Value * Math.Log(c));
}

public sealed record OptimumPoint(double Compute, double NOpt, double DOpt, double? MinLoss = null, double[]? Parabola = null, bool Extrapolated = false);
public sealed record BandPoint(double Compute, double NOpt, double NLow, double NHigh, double DOpt, double DLow, double DHigh);
public sealed record ParametricLossResult(Estimate E, Estimate A, Estimate B, Estimate Alpha, Estimate Beta, double FlopsPerParamToken, double Objective);

/// <summary>
/// The three estimates of Hoffmann et al. (2022) for one architecture, from its runs' final validation losses, each with
/// bootstrap 95% intervals (runs resampled with replacement; percentile intervals):
/// 1. per compute budget the lowest-loss run (the loss–compute envelope), lines ln N_opt and ln D_opt against ln C;
/// 2. per IsoFLOP budget a parabola of loss in ln N, its minimum N_opt (D_opt = C / FLOPs per token at N_opt), lines as in 1;
/// 3. L(N, D) = E + A/N^α + B/D^β by Huber/L-BFGS (<see cref="ParametricLossFit"/>), a = β/(α+β), b = α/(α+β).
/// Tokens per parameter are D_opt/N_opt at the largest compute budget.
/// </summary>
public static class ChinchillaFits
{
    /// <param name="Progress">Where the slow parts (approach 3's grid of L-BFGS starts and its bootstrap refits) say how far they are.</param>
    public sealed record Options(int Bootstrap = 200, int ParametricBootstrap = 100, int Seed = 0, IReadOnlyList<double[]>? ParametricGrid = null,
        TextWriter? Progress = null);

    public static ApproachFit Envelope(IReadOnlyList<ScalingPoint> points, Options options)
    {
        var optima = EnvelopeOptima(points);
        return LinesWithBootstrap("approach 1: lowest final loss per compute budget", points, optima, EnvelopeOptima, options);
    }

    public static ApproachFit IsoFlop(IReadOnlyList<ScalingPoint> points, Options options)
    {
        var optima = IsoFlopOptima(points);
        return LinesWithBootstrap("approach 2: parabola in ln N per IsoFLOP budget", points, optima, IsoFlopOptima, options);
    }

    public static ApproachFit Parametric(IReadOnlyList<ScalingPoint> points, Options options)
    {
        var n = points.Select(p => p.N).ToArray(); var d = points.Select(p => p.D).ToArray(); var l = points.Select(p => p.Loss).ToArray();
        var clock = System.Diagnostics.Stopwatch.StartNew();
        var fit = ParametricLossFit.Run(n, d, l, options.ParametricGrid, progress: Every(options.Progress, "approach 3: L-BFGS start", clock));
        double k = Median(points.Select(p => p.FlopsPerToken / p.N));
        double cRef = points.Max(p => p.Budget ?? p.C);
        var rng = new Random(options.Seed);
        var samples = new List<ParametricLoss>();
        for (int b = 0; b < options.ParametricBootstrap; b++)
        {
            var idx = Resample(points.Count, rng);
            try { samples.Add(ParametricLossFit.Run(idx.Select(i => n[i]).ToList(), idx.Select(i => d[i]).ToList(), idx.Select(i => l[i]).ToList(), fit.BestStarts).Loss); }
            catch (Exception e) when (e is ArgumentException or InvalidOperationException) { }
            Every(options.Progress, "approach 3: bootstrap refit", clock)?.Invoke(b + 1, options.ParametricBootstrap);
        }
        Estimate Est(double value, Func<ParametricLoss, double> get) => Interval(value, samples.Select(get));
        var p = fit.Loss;
        double TokensPerParam(ParametricLoss q) { var (nOpt, dOpt) = q.Optimal(cRef, k); return dOpt / nOpt; }
        double lnG(ParametricLoss q) => Math.Log(q.Alpha * q.A / (q.Beta * q.B)) / (q.Alpha + q.Beta);
        var grid = ComputeGrid(points);
        return new ApproachFit
        {
            Method = "approach 3: L(N, D) = E + A/N^α + B/D^β, Huber (δ = 1e-3) on ln L, L-BFGS from a grid of starts",
            NExponent = Est(p.NExponent, q => q.NExponent), DExponent = Est(p.DExponent, q => q.DExponent),
            LogNCoefficient = lnG(p) - p.NExponent * Math.Log(k), LogDCoefficient = -lnG(p) - p.DExponent * Math.Log(k),
            ReferenceCompute = cRef, TokensPerParam = Est(TokensPerParam(p), TokensPerParam),
            BootstrapFits = samples.Count, NExponentSamples = samples.Select(q => q.NExponent).ToArray(),
            Band = grid.Select(c =>
            {
                var (nOpt, dOpt) = p.Optimal(c, k);
                var ns = samples.Select(q => q.Optimal(c, k).N).ToList(); var ds = samples.Select(q => q.Optimal(c, k).D).ToList();
                var ni = Interval(nOpt, ns); var di = Interval(dOpt, ds);
                return new BandPoint(c, nOpt, ni.Low, ni.High, dOpt, di.Low, di.High);
            }).ToArray(),
            Parametric = new ParametricLossResult(Est(p.E, q => q.E), Est(p.A, q => q.A), Est(p.B, q => q.B),
                Est(p.Alpha, q => q.Alpha), Est(p.Beta, q => q.Beta), k, fit.Objective),
            Note = $"C = k·N·D with k = {k:F2}, the median training FLOPs per token per parameter of the runs; bootstrap restarts L-BFGS from the {fit.BestStarts.Count} best grid starts of the full fit",
        };
    }

    // ---- approaches 1 and 2: optima per budget, then lines ------------------------------------------------------

    /// <summary>Runs grouped by IsoFLOP budget, or by quarter-decade of compute when the sweep has token budgets.</summary>
    public static IEnumerable<IGrouping<double, ScalingPoint>> ByBudget(IEnumerable<ScalingPoint> points) =>
        points.GroupBy(p => p.Budget ?? Math.Pow(10, Math.Round(4 * Math.Log10(p.C)) / 4));

    static List<OptimumPoint> EnvelopeOptima(IReadOnlyList<ScalingPoint> points)
    {
        // runs of one size at one budget with other seeds count as one, at their mean loss (not the luckiest seed)
        var best = ByBudget(LadderCheck.SeedMeans(points)).Select(g => (Budget: g.Key, Run: g.MinBy(p => p.Loss)!)).OrderBy(b => b.Budget).ToList();
        var optima = new List<OptimumPoint>();
        double lowest = double.PositiveInfinity;
        foreach (var (budget, run) in best) // the envelope: a budget whose best run is no better than a smaller budget's is off it
        {
            if (run.Loss >= lowest) continue;
            lowest = run.Loss;
            optima.Add(new OptimumPoint(run.C, run.N, run.D, run.Loss));
        }
        return optima;
    }

    static List<OptimumPoint> IsoFlopOptima(IReadOnlyList<ScalingPoint> points)
    {
        if (points.Any(p => p.Budget is null)) throw new ArgumentException("approach 2 needs IsoFLOP budgets (compute_budgets in the spec)");
        // FLOPs per token as a power of N across the architecture's runs turns N_opt into D_opt = C / FLOPs per token.
        var distinct = points.DistinctBy(p => p.N).ToList();
        var (u, v) = distinct.Count >= 2 ? Regression.Line(distinct.Select(p => Math.Log(p.N)).ToList(), distinct.Select(p => Math.Log(p.FlopsPerToken)).ToList())
                                         : (Math.Log(points[0].FlopsPerToken / points[0].N), 1.0);
        var optima = new List<OptimumPoint>();
        foreach (var g in ByBudget(points).OrderBy(g => g.Key))
        {
            var x = g.Select(p => Math.Log(p.N)).ToList(); var y = g.Select(p => p.Loss).ToList();
            if (x.Distinct().Count() < 3) continue;
            var (c0, c1, c2) = Regression.Parabola(x, y);
            if (!(c2 > 0)) continue; // no minimum
            double lnOpt = -c1 / (2 * c2);
            double nOpt = Math.Exp(lnOpt);
            double dOpt = g.Key / Math.Exp(u + v * lnOpt);
            optima.Add(new OptimumPoint(g.Key, nOpt, dOpt, c0 + c1 * lnOpt + c2 * lnOpt * lnOpt, [c0, c1, c2], lnOpt < x.Min() || lnOpt > x.Max()));
        }
        return optima;
    }

    static ApproachFit LinesWithBootstrap(string method, IReadOnlyList<ScalingPoint> points, List<OptimumPoint> optima,
        Func<IReadOnlyList<ScalingPoint>, List<OptimumPoint>> optimaOf, Options options)
    {
        if (optima.Select(o => o.Compute).Distinct().Count() < 2)
            return new ApproachFit { Method = method, Optima = optima.ToArray(), Note = "fewer than two compute budgets with an optimum: no line" };
        var (lnKn, a, lnKd, b) = Lines(optima);
        double cRef = points.Max(p => p.Budget ?? p.C);
        var rng = new Random(options.Seed);
        var samples = new List<(double LnKn, double A, double LnKd, double B)>();
        for (int i = 0; i < options.Bootstrap; i++)
        {
            var idx = Resample(points.Count, rng);
            try
            {
                var o = optimaOf(idx.Select(j => points[j]).ToList());
                if (o.Select(p => p.Compute).Distinct().Count() >= 2) samples.Add(Lines(o));
            }
            catch (ArgumentException) { }
        }
        double Tpp(double lkn, double aa, double lkd, double bb) => Math.Exp(lkd + bb * Math.Log(cRef) - lkn - aa * Math.Log(cRef));
        return new ApproachFit
        {
            Method = method,
            NExponent = Interval(a, samples.Select(s => s.A)), DExponent = Interval(b, samples.Select(s => s.B)),
            LogNCoefficient = lnKn, LogDCoefficient = lnKd, ReferenceCompute = cRef,
            TokensPerParam = Interval(Tpp(lnKn, a, lnKd, b), samples.Select(s => Tpp(s.LnKn, s.A, s.LnKd, s.B))),
            Optima = optima.ToArray(), BootstrapFits = samples.Count, NExponentSamples = samples.Select(s => s.A).ToArray(),
            Band = ComputeGrid(points).Select(c =>
            {
                double lc = Math.Log(c);
                var n = Interval(Math.Exp(lnKn + a * lc), samples.Select(s => Math.Exp(s.LnKn + s.A * lc)));
                var d = Interval(Math.Exp(lnKd + b * lc), samples.Select(s => Math.Exp(s.LnKd + s.B * lc)));
                return new BandPoint(c, n.Value, n.Low, n.High, d.Value, d.Low, d.High);
            }).ToArray(),
        };
    }

    static (double LnKn, double A, double LnKd, double B) Lines(List<OptimumPoint> optima)
    {
        var lc = optima.Select(o => Math.Log(o.Compute)).ToList();
        var (lnKn, a) = Regression.Line(lc, optima.Select(o => Math.Log(o.NOpt)).ToList());
        var (lnKd, b) = Regression.Line(lc, optima.Select(o => Math.Log(o.DOpt)).ToList());
        return (lnKn, a, lnKd, b);
    }

    // ---- helpers ------------------------------------------------------------------------------------------------

    /// <summary>A progress callback that writes a line at every tenth of the work (and at its end), with the time so far.</summary>
    static Action<int, int>? Every(TextWriter? log, string what, System.Diagnostics.Stopwatch clock) => log is null ? null : (done, total) =>
    {
        if (done == total || done * 10 / total != (done - 1) * 10 / total)
            log.WriteLine($"    {what} {done}/{total} ({clock.Elapsed.TotalSeconds:F0} s)");
    };

    static int[] Resample(int count, Random rng) => Enumerable.Range(0, count).Select(_ => rng.Next(count)).ToArray();

    /// <summary>Percentile 2.5–97.5 interval of the bootstrap values around the full-data value (NaN when none).</summary>
    public static Estimate Interval(double value, IEnumerable<double> samples)
    {
        var sorted = samples.Where(double.IsFinite).OrderBy(x => x).ToArray();
        if (sorted.Length == 0) return new Estimate(value, double.NaN, double.NaN);
        return new Estimate(value, Percentile(sorted, 0.025), Percentile(sorted, 0.975));
    }

    static double Percentile(double[] sorted, double q)
    {
        double pos = q * (sorted.Length - 1);
        int lo = (int)Math.Floor(pos), hi = Math.Min(lo + 1, sorted.Length - 1);
        return sorted[lo] + (pos - lo) * (sorted[hi] - sorted[lo]);
    }

    static double Median(IEnumerable<double> values)
    {
        var s = values.OrderBy(x => x).ToArray();
        return s.Length % 2 == 1 ? s[s.Length / 2] : 0.5 * (s[s.Length / 2 - 1] + s[s.Length / 2]);
    }

    /// <summary>Log-spaced compute values from half the smallest to twice the largest budget, for bands.</summary>
    static double[] ComputeGrid(IReadOnlyList<ScalingPoint> points)
    {
        double lo = Math.Log(points.Min(p => p.Budget ?? p.C) / 2), hi = Math.Log(points.Max(p => p.Budget ?? p.C) * 2);
        return Enumerable.Range(0, 25).Select(i => Math.Exp(lo + (hi - lo) * i / 24)).ToArray();
    }
}
