namespace ArchLab.Scaling;

/// <summary>
/// Training FLOPs per token as a power of N, F(N) = e^u · N^v, fitted over an architecture's runs: it turns a budget C
/// into tokens, D = C / F(N). Chinchilla's C = 6ND is the case u = ln 6, v = 1. With non-embedding N the head and the
/// attention add a cost per token that does not grow with N, so v is below 1 at small sizes (about 0.8 in this project's
/// ladders), and compute-optimal exponents must use it: with C = F(N)·D, N_opt ∝ C^(β/(α+vβ)), not C^(β/(α+β)).
/// </summary>
public sealed record FlopsPerTokenLaw(double LogCoefficient, double Exponent)
{
    /// <summary>F(N) = k·N: compute proportional to N·D, as in Chinchilla's C = 6ND.</summary>
    public static FlopsPerTokenLaw Proportional(double flopsPerParamToken) => new(Math.Log(flopsPerParamToken), 1);

    /// <summary>Least-squares line ln F = u + v ln N over the runs' distinct sizes (proportional when there is one size).</summary>
    public static FlopsPerTokenLaw Fit(IReadOnlyList<ScalingPoint> points)
    {
        var sizes = points.DistinctBy(p => p.N).ToList();
        if (sizes.Count < 2) return Proportional(points[0].FlopsPerToken / points[0].N);
        var (u, v) = Regression.Line(sizes.Select(p => Math.Log(p.N)).ToList(), sizes.Select(p => Math.Log(p.FlopsPerToken)).ToList());
        return new FlopsPerTokenLaw(u, v);
    }

    public double At(double n) => Math.Exp(LogCoefficient + Exponent * Math.Log(n));

    /// <summary>Training tokens that compute C buys at size N.</summary>
    public double Tokens(double compute, double n) => compute / At(n);
}
