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
    /// <summary>Bootstrap resamples that gave a fit (others had too few budgets with an optimum for a line).</summary>
    public int BootstrapFits { get; init; }
    /// <summary>Approaches 1 and 2: budget optima of the full fit that a bootstrap resample did not have (summed over the
    /// resamples): its parabola had no minimum inside the sizes it ran (approach 2), or the budget fell off its envelope
    /// (approach 1). The lines of that resample were fitted without them.</summary>
    public int BootstrapOptimaLeftOut { get; init; }
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

/// <param name="Budget">The compute budget (or quarter-decade group) the optimum belongs to; approach 1 puts it at its best run's own compute.</param>
public sealed record OptimumPoint(double Compute, double NOpt, double DOpt, double? MinLoss = null, double[]? Parabola = null, bool Extrapolated = false,
    double? Budget = null);
public sealed record BandPoint(double Compute, double NOpt, double NLow, double NHigh, double DOpt, double DLow, double DHigh);
/// <param name="ProportionalComputeNExponent">β/(α+β): what a would be if compute were k·N·D, as in Chinchilla's C = 6ND.</param>
public sealed record ParametricLossResult(Estimate E, Estimate A, Estimate B, Estimate Alpha, Estimate Beta,
    Estimate ProportionalComputeNExponent, double Objective);

/// <summary>
/// The three estimates of Hoffmann et al. (2022) for one architecture, from its runs' final validation losses, each with
/// bootstrap 95% intervals (runs resampled with replacement within each compute budget; percentile intervals):
/// 1. per compute budget the lowest-loss run (the loss–compute envelope), lines ln N_opt and ln D_opt against ln C;
/// 2. per IsoFLOP budget a parabola of loss in ln N, its minimum N_opt (D_opt = C / F(N_opt)), lines as in 1 through the
///    minima that lie inside the sizes run;
/// 3. L(N, D) = E + A/N^α + B/D^β by Huber/L-BFGS (<see cref="ParametricLossFit"/>); its minimum along C = F(N)·D at each
///    budget, and lines as in 1.
/// F(N) is the architecture's training FLOPs per token read off its runs (<see cref="FlopsPerTokenCurve"/>), so all three
/// measure N_opt against the same compute. Tokens per parameter are D_opt/N_opt at the largest compute budget.
/// </summary>
public static class ChinchillaFits
{
    /// <param name="Progress">Where the slow parts (approach 3's grid of L-BFGS starts and its bootstrap refits) say how far they are.</param>
    /// <param name="BootstrapStarts">Approach 3's bootstrap refits restart L-BFGS from this many of the full fit's best grid
    /// starts; 0: from the whole grid (as slow as the full fit, every refit).</param>
    public sealed record Options(int Bootstrap = 200, int ParametricBootstrap = 100, int Seed = 0, IReadOnlyList<double[]>? ParametricGrid = null,
        TextWriter? Progress = null, int BootstrapStarts = 8);

    public static ApproachFit Envelope(IReadOnlyList<ScalingPoint> points, Options options)
    {
        var optima = EnvelopeOptima(points);
        return LinesWithBootstrap("approach 1: lowest final loss per compute budget", points, optima, EnvelopeOptima, options);
    }

    public static ApproachFit IsoFlop(IReadOnlyList<ScalingPoint> points, Options options)
    {
        if (points.Any(p => p.Budget is null)) throw new ArgumentException("approach 2 needs IsoFLOP budgets (compute_budgets in the spec)");
        // F(N) belongs to the architecture's ladder, not to the noise: read once, used by every resample
        var flops = FlopsPerTokenCurve.Fit(points);
        var optima = IsoFlopOptima(points, flops);
        var fit = LinesWithBootstrap("approach 2: parabola in ln N per IsoFLOP budget", points, optima, pts => IsoFlopOptima(pts, flops), options);
        return fit.Band.Length == 0 ? fit : fit with
        {
            Note = "D_opt = C / F(N_opt), F the runs' FLOPs per token interpolated in ln N between the sizes run; lines through the minima inside the sizes run",
        };
    }

    public static ApproachFit Parametric(IReadOnlyList<ScalingPoint> points, Options options)
    {
        var n = points.Select(p => p.N).ToArray(); var d = points.Select(p => p.D).ToArray(); var l = points.Select(p => p.Loss).ToArray();
        var clock = System.Diagnostics.Stopwatch.StartNew();
        var grid = options.ParametricGrid ?? ParametricLossFit.DefaultGrid();
        var fit = ParametricLossFit.Run(n, d, l, grid, keepStarts: Math.Max(1, options.BootstrapStarts), progress: Every(options.Progress, "approach 3: L-BFGS start", clock));
        var refitStarts = options.BootstrapStarts > 0 ? fit.BestStarts : grid;
        var flops = FlopsPerTokenCurve.Fit(points);
        double cRef = points.Max(p => p.Budget ?? p.C);
        var rng = new Random(options.Seed);
        var samples = new List<ParametricLoss>();
        for (int b = 0; b < options.ParametricBootstrap; b++)
        {
            var idx = ResampleWithinBudgets(points, rng);
            try { samples.Add(ParametricLossFit.Run(idx.Select(i => n[i]).ToList(), idx.Select(i => d[i]).ToList(), idx.Select(i => l[i]).ToList(), refitStarts).Loss); }
            catch (Exception e) when (e is ArgumentException or InvalidOperationException) { }
            Every(options.Progress, "approach 3: bootstrap refit", clock)?.Invoke(b + 1, options.ParametricBootstrap);
        }
        // a and b as approaches 1 and 2 measure them: lines through the optimum of each of the sweep's budgets (with one
        // budget, through C/2 and 2C); the optimum minimises the fitted L along C = F(N)·D
        var budgets = ByBudget(points).Select(g => g.Key).OrderBy(c => c).ToList();
        if (budgets.Count < 2) budgets = [budgets[0] / 2, budgets[0] * 2];
        (double LnKn, double A, double LnKd, double B) LinesOf(ParametricLoss q) =>
            Lines(budgets.Select(c => { var (nOpt, dOpt) = q.Optimal(c, flops); return new OptimumPoint(c, nOpt, dOpt); }).ToList());
        var p = fit.Loss;
        var full = LinesOf(p);
        var sampleLines = samples.Select(LinesOf).ToList();
        Estimate Est(double value, Func<ParametricLoss, double> get) => Interval(value, samples.Select(get));
        double TokensPerParam(ParametricLoss q) { var (nOpt, dOpt) = q.Optimal(cRef, flops); return dOpt / nOpt; }
        return new ApproachFit
        {
            Method = "approach 3: L(N, D) = E + A/N^α + B/D^β, Huber (δ = 1e-3) on ln L, L-BFGS from a grid of starts",
            NExponent = Interval(full.A, sampleLines.Select(s => s.A)), DExponent = Interval(full.B, sampleLines.Select(s => s.B)),
            LogNCoefficient = full.LnKn, LogDCoefficient = full.LnKd,
            ReferenceCompute = cRef, TokensPerParam = Est(TokensPerParam(p), TokensPerParam),
            BootstrapFits = samples.Count, NExponentSamples = sampleLines.Select(s => s.A).ToArray(),
            Band = ComputeGrid(points).Select(c =>
            {
                var (nOpt, dOpt) = p.Optimal(c, flops);
                var optima = samples.Select(q => q.Optimal(c, flops)).ToList();
                var ni = Interval(nOpt, optima.Select(o => o.N)); var di = Interval(dOpt, optima.Select(o => o.D));
                return new BandPoint(c, nOpt, ni.Low, ni.High, dOpt, di.Low, di.High);
            }).ToArray(),
            Parametric = new ParametricLossResult(Est(p.E, q => q.E), Est(p.A, q => q.A), Est(p.B, q => q.B),
                Est(p.Alpha, q => q.Alpha), Est(p.Beta, q => q.Beta), Est(p.ProportionalComputeNExponent, q => q.ProportionalComputeNExponent), fit.Objective),
            Note = "the optimum minimises L(N, C/F(N)), F the runs' FLOPs per token interpolated in ln N between the sizes run; "
                 + $"a and b are the slopes of ln N_opt and ln D_opt against ln C over the {budgets.Count} budgets; "
                 + $"with C ∝ N·D a would be β/(α+β) = {p.ProportionalComputeNExponent:F3}; "
                 + $"bootstrap restarts L-BFGS from {(refitStarts.Count == grid.Count ? "all" : "the")} {refitStarts.Count} "
                 + (refitStarts.Count == grid.Count ? "grid starts" : "best grid starts of the full fit"),
        };
    }

    // ---- approaches 1 and 2: optima per budget, then lines ------------------------------------------------------

    /// <summary>Runs grouped by IsoFLOP budget, or by quarter-decade of compute when the sweep has token budgets.</summary>
    public static IEnumerable<IGrouping<double, ScalingPoint>> ByBudget(IEnumerable<ScalingPoint> points) => points.GroupBy(BudgetOf);

    static double BudgetOf(ScalingPoint p) => p.Budget ?? Math.Pow(10, Math.Round(4 * Math.Log10(p.C)) / 4);

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
            optima.Add(new OptimumPoint(run.C, run.N, run.D, run.Loss, Budget: budget));
        }
        return optima;
    }

    /// <summary>Each budget's parabola minimum (flagged <c>Extrapolated</c> when outside the sizes run there); budgets
    /// with fewer than three sizes or no minimum have none.</summary>
    static List<OptimumPoint> IsoFlopOptima(IReadOnlyList<ScalingPoint> points, FlopsPerTokenCurve flops)
    {
        var optima = new List<OptimumPoint>();
        foreach (var g in ByBudget(points).OrderBy(g => g.Key))
        {
            var x = g.Select(p => Math.Log(p.N)).ToList(); var y = g.Select(p => p.Loss).ToList();
            if (x.Distinct().Count() < 3) continue;
            var (c0, c1, c2) = Regression.Parabola(x, y);
            if (!(c2 > 0)) continue; // no minimum
            double lnOpt = -c1 / (2 * c2);
            double nOpt = Math.Exp(lnOpt);
            double dOpt = flops.Tokens(g.Key, nOpt);
            optima.Add(new OptimumPoint(g.Key, nOpt, dOpt, c0 + c1 * lnOpt + c2 * lnOpt * lnOpt, [c0, c1, c2], lnOpt < x.Min() || lnOpt > x.Max(), g.Key));
        }
        return optima;
    }

    static ApproachFit LinesWithBootstrap(string method, IReadOnlyList<ScalingPoint> points, List<OptimumPoint> optima,
        Func<IReadOnlyList<ScalingPoint>, List<OptimumPoint>> optimaOf, Options options)
    {
        // an optimum outside the sizes run is a guess of the parabola, not a measurement: shown, but no line goes through it
        var measured = optima.Where(o => !o.Extrapolated).ToList();
        if (measured.Select(o => o.Compute).Distinct().Count() < 2)
            return new ApproachFit { Method = method, Optima = optima.ToArray(), Note = "fewer than two compute budgets with an optimum inside their sizes: no line" };
        var (lnKn, a, lnKd, b) = Lines(measured);
        double cRef = points.Max(p => p.Budget ?? p.C);
        var rng = new Random(options.Seed);
        var samples = new List<(double LnKn, double A, double LnKd, double B)>();
        int leftOut = 0;
        for (int i = 0; i < options.Bootstrap; i++)
        {
            var o = optimaOf(ResampleWithinBudgets(points, rng).Select(j => points[j]).ToList()).Where(p => !p.Extrapolated).ToList();
            leftOut += measured.Count(m => !o.Any(p => p.Budget == m.Budget));
            if (o.Select(p => p.Compute).Distinct().Count() >= 2) samples.Add(Lines(o));
        }
        double Tpp(double lkn, double aa, double lkd, double bb) => Math.Exp(lkd + bb * Math.Log(cRef) - lkn - aa * Math.Log(cRef));
        return new ApproachFit
        {
            Method = method,
            NExponent = Interval(a, samples.Select(s => s.A)), DExponent = Interval(b, samples.Select(s => s.B)),
            LogNCoefficient = lnKn, LogDCoefficient = lnKd, ReferenceCompute = cRef,
            TokensPerParam = Interval(Tpp(lnKn, a, lnKd, b), samples.Select(s => Tpp(s.LnKn, s.A, s.LnKd, s.B))),
            Optima = optima.ToArray(), BootstrapFits = samples.Count, BootstrapOptimaLeftOut = leftOut, NExponentSamples = samples.Select(s => s.A).ToArray(),
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

    /// <summary>A bootstrap resample stratified by budget: each budget's runs drawn with replacement from that budget's
    /// runs, so every resample has the sweep's budgets with their run counts (which sizes appear, and how often, varies).</summary>
    static List<int> ResampleWithinBudgets(IReadOnlyList<ScalingPoint> points, Random rng)
    {
        var resample = new List<int>(points.Count);
        foreach (var budget in Enumerable.Range(0, points.Count).GroupBy(i => BudgetOf(points[i])).OrderBy(g => g.Key))
        {
            var runs = budget.ToArray();
            for (int i = 0; i < runs.Length; i++) resample.Add(runs[rng.Next(runs.Length)]);
        }
        return resample;
    }

    /// <summary>Percentile interval of the bootstrap values around the full-data value (NaN when none): 2.5–97.5 for the
    /// default 95% <paramref name="coverage"/>.</summary>
    public static Estimate Interval(double value, IEnumerable<double> samples, double coverage = 0.95)
    {
        var sorted = samples.Where(double.IsFinite).OrderBy(x => x).ToArray();
        if (sorted.Length == 0) return new Estimate(value, double.NaN, double.NaN);
        double tail = (1 - coverage) / 2;
        return new Estimate(value, Percentile(sorted, tail), Percentile(sorted, 1 - tail));
    }

    static double Percentile(double[] sorted, double q)
    {
        double pos = q * (sorted.Length - 1);
        int lo = (int)Math.Floor(pos), hi = Math.Min(lo + 1, sorted.Length - 1);
        return sorted[lo] + (pos - lo) * (sorted[hi] - sorted[lo]);
    }

    /// <summary>Log-spaced compute values from half the smallest to twice the largest budget, for bands.</summary>
    static double[] ComputeGrid(IReadOnlyList<ScalingPoint> points)
    {
        double lo = Math.Log(points.Min(p => p.Budget ?? p.C) / 2), hi = Math.Log(points.Max(p => p.Budget ?? p.C) * 2);
        return Enumerable.Range(0, 25).Select(i => Math.Exp(lo + (hi - lo) * i / 24)).ToArray();
    }
}
