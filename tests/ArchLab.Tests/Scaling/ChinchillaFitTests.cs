using ArchLab.Scaling;

namespace ArchLab.Tests.Scaling;

/// <summary>
/// The fits recover known constants: losses drawn from L(N, D) = E + A/N^α + B/D^β (Chinchilla's published values)
/// on an IsoFLOP grid (C = 6ND), with 0.5% multiplicative noise, fitted by all three approaches.
/// </summary>
public class ChinchillaFitTests
{
    static readonly ParametricLoss Truth = new(E: 1.69, A: 406.4, B: 410.7, Alpha: 0.34, Beta: 0.28);
    static double TrueA => Truth.NExponent;  // β/(α+β) ≈ 0.452
    static double TrueB => Truth.DExponent;  // α/(α+β) ≈ 0.548

    /// <summary>5 budgets 1e18…1e22, 9 sizes per budget spread ±1 decade around the true N_opt.</summary>
    static List<ScalingPoint> Synthetic(double noise, int seed = 7)
    {
        var rng = new Random(seed);
        var points = new List<ScalingPoint>();
        foreach (double c in new[] { 1e18, 1e19, 1e20, 1e21, 1e22 })
        {
            var (nOpt, _) = Truth.Optimal(c, 6);
            for (int i = -4; i <= 4; i++)
            {
                double n = nOpt * Math.Pow(10, i / 4.0), d = c / (6 * n);
                double gaussian = Math.Sqrt(-2 * Math.Log(1 - rng.NextDouble())) * Math.Cos(2 * Math.PI * rng.NextDouble());
                points.Add(new ScalingPoint(n, d, c, c, Truth.Loss(n, d) * Math.Exp(noise * gaussian), 6 * n));
            }
        }
        return points;
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
        var (n, d) = Truth.Optimal(1e22, 6);
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
        // a coarser grid than the default keeps the test fast; the full grid is what `archlab fit` uses
        var grid = new List<double[]>();
        foreach (var a in new double[] { 0, 5, 10 }) foreach (var b in new double[] { 0, 5, 10 }) foreach (var e in new double[] { -1, 0, 1 })
            foreach (var al in new[] { 0.2, 0.5, 1.0 }) foreach (var be in new[] { 0.2, 0.5, 1.0 }) grid.Add([a, b, e, al, be]);
        var fit = ChinchillaFits.Parametric(Synthetic(0.003), Fast with { ParametricGrid = grid });
        var p = fit.Parametric!;
        Assert.InRange(p.E.Value, 1.69 - 0.05, 1.69 + 0.05);
        Assert.InRange(p.Alpha.Value, 0.34 - 0.04, 0.34 + 0.04);
        Assert.InRange(p.Beta.Value, 0.28 - 0.04, 0.28 + 0.04);
        Assert.InRange(fit.NExponent.Value, TrueA - 0.03, TrueA + 0.03);
        Assert.InRange(p.Alpha.Value, p.Alpha.Low, p.Alpha.High);
        Assert.True(fit.BootstrapFits >= 15);
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
