using ArchLab.Scaling;

namespace ArchLab.Tests.Scaling;

/// <summary>
/// The fits recover known constants: losses drawn from L(N, D) = E + A/N^α + B/D^β (Chinchilla's published values)
/// on an IsoFLOP grid (C = 6ND, and C = F(N)·D with F growing slower than N, as non-embedding N makes it), with
/// multiplicative noise, fitted by all three approaches.
/// </summary>
public class ChinchillaFitTests
{
    static readonly ParametricLoss Truth = new(E: 1.69, A: 406.4, B: 410.7, Alpha: 0.34, Beta: 0.28);
    static readonly FlopsPerTokenCurve SixND = FlopsPerTokenCurve.Proportional(6);
    /// <summary>F(N) = 20·N^0.7: compute-optimal a = β/(α + 0.7β) ≈ 0.522, where β/(α+β) ≈ 0.452.</summary>
    static readonly FlopsPerTokenCurve Sublinear = FlopsPerTokenCurve.PowerLaw(Math.Log(20), 0.7);
    static double TrueA => Truth.ProportionalComputeNExponent;  // β/(α+β) ≈ 0.452
    static double TrueB => 1 - TrueA;                            // α/(α+β) ≈ 0.548

    /// <summary>The closed form of the optimum for F(N) = k·N^v: N^(α+vβ) = αA·C^β / (vβB·k^β).</summary>
    static double ClosedFormN(ParametricLoss l, double c, double k, double v) =>
        Math.Pow(l.Alpha * l.A * Math.Pow(c, l.Beta) / (v * l.Beta * l.B * Math.Pow(k, l.Beta)), 1 / (l.Alpha + v * l.Beta));

    /// <summary>5 budgets 1e18…1e22, 9 sizes per budget spread ±1 decade (<paramref name="decades"/>) around the true N_opt.</summary>
    static List<ScalingPoint> Synthetic(double noise, int seed = 7, FlopsPerTokenCurve? flops = null, double decades = 1, int sizes = 9)
    {
        flops ??= SixND;
        var rng = new Random(seed);
        var points = new List<ScalingPoint>();
        foreach (double c in new[] { 1e18, 1e19, 1e20, 1e21, 1e22 })
        {
            var (nOpt, _) = Truth.Optimal(c, flops);
            for (int i = 0; i < sizes; i++)
            {
                double n = nOpt * Math.Pow(10, decades * (2.0 * i / (sizes - 1) - 1)), d = flops.Tokens(c, n);
                double gaussian = Math.Sqrt(-2 * Math.Log(1 - rng.NextDouble())) * Math.Cos(2 * Math.PI * rng.NextDouble());
                points.Add(new ScalingPoint(n, d, c, c, Truth.Loss(n, d) * Math.Exp(noise * gaussian), flops.At(n)));
            }
        }
        return points;
    }

    /// <summary>A coarser grid than the default keeps the tests fast; the full grid is what `archlab fit` uses.</summary>
    static List<double[]> SmallGrid()
    {
        var grid = new List<double[]>();
        foreach (var a in new double[] { 0, 5, 10 }) foreach (var b in new double[] { 0, 5, 10 }) foreach (var e in new double[] { -1, 0, 1 })
            foreach (var al in new[] { 0.2, 0.5, 1.0 }) foreach (var be in new[] { 0.2, 0.5, 1.0 }) grid.Add([a, b, e, al, be]);
        return grid;
    }

    static readonly ChinchillaFits.Options Fast = new(Bootstrap: 100, ParametricBootstrap: 20, Seed: 1);

    [Fact]
    public void ApproachTwoRecoversTheExponentsAndTheirIntervalsCoverThem()
    {
        var fit = ChinchillaFits.IsoFlop(Synthetic(0.005), Fast);
        Assert.Equal(5, fit.Optima.Length);
        Assert.InRange(fit.NExponent.Value, TrueA - 0.04, TrueA + 0.04);
        Assert.InRange(fit.DExponent.Value, TrueB - 0.04, TrueB + 0.04);
        Assert.InRange(TrueA, fit.NExponent.Low - 0.01, fit.NExponent.High + 0.01);
        Assert.True(fit.NExponent.Low < fit.NExponent.Value && fit.NExponent.Value < fit.NExponent.High);
        // tokens per parameter at 1e22 FLOPs: the closed form of the true law
        var (n, d) = Truth.Optimal(1e22, SixND);
        Assert.InRange(fit.TokensPerParam.Value / (d / n), 0.7, 1.4);
    }

    [Fact]
    public void ApproachOneRecoversTheExponentsFromTheLowestLossRuns()
    {
        var fit = ChinchillaFits.Envelope(Synthetic(0.002), Fast);
        Assert.InRange(fit.NExponent.Value, TrueA - 0.08, TrueA + 0.08);
        Assert.InRange(fit.DExponent.Value, TrueB - 0.08, TrueB + 0.08);
        Assert.InRange(fit.NExponent.Value + fit.DExponent.Value, 0.99, 1.01); // C = 6ND exactly in the synthetic runs
    }

    [Fact]
    public void ApproachThreeRecoversTheConstants()
    {
        var fit = ChinchillaFits.Parametric(Synthetic(0.003), Fast with { ParametricGrid = SmallGrid() });
        var p = fit.Parametric!;
        Assert.InRange(p.E.Value, 1.69 - 0.05, 1.69 + 0.05);
        Assert.InRange(p.Alpha.Value, 0.34 - 0.04, 0.34 + 0.04);
        Assert.InRange(p.Beta.Value, 0.28 - 0.04, 0.28 + 0.04);
        Assert.InRange(fit.NExponent.Value, TrueA - 0.03, TrueA + 0.03);
        Assert.InRange(p.Alpha.Value, p.Alpha.Low, p.Alpha.High);
        Assert.True(fit.BootstrapFits >= 15);
    }

    [Fact]
    public void ApproachThreeBootstrapCanRestartFromTheWholeGrid()
    {
        var points = Synthetic(0.003);
        var fromBest = ChinchillaFits.Parametric(points, Fast with { ParametricGrid = SmallGrid(), ParametricBootstrap = 4 });
        var fromAll = ChinchillaFits.Parametric(points, Fast with { ParametricGrid = SmallGrid(), ParametricBootstrap = 4, BootstrapStarts = 0 });
        Assert.Contains("from the 8 best grid starts", fromBest.Note);
        Assert.Contains($"from all {SmallGrid().Count} grid starts", fromAll.Note); // the Note counts the starts the refits used
        Assert.Equal(fromBest.NExponent.Value, fromAll.NExponent.Value, 12); // the full fit is the same
        Assert.Equal(4, fromAll.BootstrapFits);
        Assert.InRange(TrueA, fromAll.NExponent.Low - 0.03, fromAll.NExponent.High + 0.03);
    }

    [Fact]
    public void TheOptimumIsTheLowestLossAlongTheComputeConstraint()
    {
        // the closed form where F is a power law: proportional to N (Chinchilla's 6ND) and not
        foreach (var (flops, k, v) in new[] { (SixND, 6.0, 1.0), (Sublinear, 20.0, 0.7) })
            foreach (double c in new[] { 1e12, 1e19 })
            {
                var (n, d) = Truth.Optimal(c, flops);
                Assert.Equal(c, flops.At(n) * d, c * 1e-9); // it spends the budget
                Assert.InRange(n / ClosedFormN(Truth, c, k, v), 1 - 1e-6, 1 + 1e-6);
            }
        // F read off runs, with a head cost per token that does not grow with N (not a power law): brute force over ln N
        var sizes = Enumerable.Range(0, 12).Select(i => 300 * Math.Pow(2, i)).ToList();
        var curve = FlopsPerTokenCurve.Fit(sizes.Select(m => new ScalingPoint(m, 1, 1, 1, 1, 6 * m + 20_000)).ToList());
        Assert.Equal(6 * 2400 + 20_000, curve.At(2400), 6); // exact at the sizes run
        foreach (double c in new[] { 1e11, 1e13 })
        {
            var (n, d) = Truth.Optimal(c, curve);
            Assert.Equal(c, curve.At(n) * d, c * 1e-9);
            double best = Enumerable.Range(0, 600_001).Select(i => Math.Exp(Math.Log(n) - 3 + i * 1e-5))
                                    .MinBy(m => Truth.Loss(m, curve.Tokens(c, m)));
            Assert.InRange(best / n, 1 - 2e-5, 1 + 2e-5);
        }
    }

    [Fact]
    public void AllThreeApproachesMeasureTheOptimumAgainstTheComputeTheRunsSpent()
    {
        // with C = F(N)·D and F ∝ N^0.7, the compute-optimal a is β/(α+0.7β) ≈ 0.522; reading the parametric fit as if
        // C ∝ N·D gives β/(α+β) ≈ 0.452 and tokens per parameter off by about 2×
        var points = Synthetic(0.002, flops: Sublinear);
        double trueA = Truth.Beta / (Truth.Alpha + 0.7 * Truth.Beta);
        var (n, d) = Truth.Optimal(1e22, Sublinear);
        var a3 = ChinchillaFits.Parametric(points, Fast with { ParametricGrid = SmallGrid() });
        Assert.InRange(a3.NExponent.Value, trueA - 0.02, trueA + 0.02);
        Assert.InRange(a3.DExponent.Value + 0.7 * a3.NExponent.Value, 1 - 1e-6, 1 + 1e-6); // D = C / F(N): b = 1 − v·a
        Assert.InRange(a3.TokensPerParam.Value / (d / n), 0.8, 1.25);
        Assert.InRange(a3.Parametric!.ProportionalComputeNExponent.Value, TrueA - 0.02, TrueA + 0.02);
        var a2 = ChinchillaFits.IsoFlop(points, Fast);
        Assert.InRange(a2.NExponent.Value, trueA - 0.03, trueA + 0.03);
        Assert.InRange(a2.TokensPerParam.Value / (d / n), 0.7, 1.4);
        var a1 = ChinchillaFits.Envelope(points, Fast);
        Assert.InRange(a1.NExponent.Value, trueA - 0.08, trueA + 0.08);
    }

    [Fact]
    public void AnOptimumOutsideTheSizesRunIsShownButNoLineGoesThroughIt()
    {
        var points = Synthetic(0.002);
        var fiveBudgets = ChinchillaFits.IsoFlop(points, Fast);
        // a sixth budget whose sizes all lie above its optimum: its parabola's minimum is a guess
        var (nOpt, _) = Truth.Optimal(1e23, SixND);
        foreach (double n in Enumerable.Range(0, 5).Select(i => nOpt * Math.Pow(10, 0.5 + i / 4.0)))
            points.Add(new ScalingPoint(n, 1e23 / (6 * n), 1e23, 1e23, Truth.Loss(n, 1e23 / (6 * n)), 6 * n));
        var sixBudgets = ChinchillaFits.IsoFlop(points, Fast);
        Assert.Equal(6, sixBudgets.Optima.Length);
        Assert.True(sixBudgets.Optima.Single(o => o.Compute == 1e23).Extrapolated);
        Assert.Equal(fiveBudgets.NExponent.Value, sixBudgets.NExponent.Value, 12);
        Assert.True(sixBudgets.BootstrapOptimaLeftOut < Fast.Bootstrap, $"{sixBudgets.BootstrapOptimaLeftOut} optima left out");
        // no resample's line goes through the guessed minimum either
        Assert.All(sixBudgets.NExponentSamples, a => Assert.InRange(a, TrueA - 0.05, TrueA + 0.05));
    }

    [Fact]
    public void ApproachTwoIntervalStaysNarrowWhenResamplesLoseAMinimum()
    {
        // few sizes close around each optimum and noisy losses: some resamples' parabolas lose their minimum or put it
        // outside their sizes; those budgets are left out of that resample's line, and say so, instead of steering it
        var fit = ChinchillaFits.IsoFlop(Synthetic(0.01, seed: 3, decades: 0.5, sizes: 5), Fast with { Bootstrap = 200 });
        Assert.True(fit.BootstrapOptimaLeftOut > 0);
        Assert.InRange(TrueA, fit.NExponent.Low, fit.NExponent.High);
        Assert.True(fit.NExponent.High - fit.NExponent.Low < 0.3, $"a = {fit.NExponent}");
    }

    [Fact]
    public void NoiselessDataGiveTheExactLawBack()
    {
        var grid = new List<double[]> { new[] { 5.0, 5.0, 0.5, 0.5, 0.5 }, new[] { 2.0, 8.0, 0.0, 0.3, 0.6 } };
        var points = Synthetic(0);
        var fit = ParametricLossFit.Run(points.Select(p => p.N).ToList(), points.Select(p => p.D).ToList(), points.Select(p => p.Loss).ToList(), grid);
        Assert.Equal(0.34, fit.Loss.Alpha, 3);
        Assert.Equal(0.28, fit.Loss.Beta, 3);
        Assert.Equal(1.69, fit.Loss.E, 3);
    }

    [Fact]
    public void LbfgsFindsTheRosenbrockMinimum()
    {
        var r = Lbfgs.Minimize((x, g) =>
        {
            g[0] = -2 * (1 - x[0]) - 400 * x[0] * (x[1] - x[0] * x[0]);
            g[1] = 200 * (x[1] - x[0] * x[0]);
            return (1 - x[0]) * (1 - x[0]) + 100 * (x[1] - x[0] * x[0]) * (x[1] - x[0] * x[0]);
        }, [-1.2, 1.0], maxIterations: 1000);
        Assert.Equal(1.0, r.X[0], 4);
        Assert.Equal(1.0, r.X[1], 4);
    }

    [Fact]
    public void ParabolaAndLineFitsAreExact()
    {
        double[] x = [1, 2, 3, 4, 5];
        var (c0, c1, c2) = Regression.Parabola(x, x.Select(v => 3 - 2 * v + 0.5 * v * v).ToList());
        Assert.Equal(3, c0, 9); Assert.Equal(-2, c1, 9); Assert.Equal(0.5, c2, 9);
        var (i, s) = Regression.Line(x, x.Select(v => 1 + 2 * v).ToList());
        Assert.Equal(1, i, 12); Assert.Equal(2, s, 12);
    }
}
