namespace ArchLab.Scaling;

/// <summary>
/// Training FLOPs per token as a function of N, F(N), read off an architecture's runs: ln F interpolated linearly in ln N
/// between the sizes run, and extended past the smallest and largest along the end segments. It turns a budget C into
/// tokens, D = C / F(N). Chinchilla's C = 6ND is F = 6N. With non-embedding N the head and the attention add a cost per
/// token that does not grow with N, so F grows more slowly than N, and not as one power of it: between neighbouring sizes
/// of this project's ladders the local exponent runs from about 0.6 to 1.
/// </summary>
public sealed class FlopsPerTokenCurve
{
    readonly double[] lnN, lnF;

    FlopsPerTokenCurve(double[] lnN, double[] lnF) { this.lnN = lnN; this.lnF = lnF; }

    /// <summary>F(N) = k·N: compute proportional to N·D, as in Chinchilla's C = 6ND.</summary>
    public static FlopsPerTokenCurve Proportional(double flopsPerParamToken) => PowerLaw(Math.Log(flopsPerParamToken), 1);

    /// <summary>F(N) = e^u·N^v everywhere.</summary>
    public static FlopsPerTokenCurve PowerLaw(double logCoefficient, double exponent) => new([0, 1], [logCoefficient, logCoefficient + exponent]);

    /// <summary>The runs' FLOPs per token at their distinct sizes (proportional to N when there is one size).</summary>
    public static FlopsPerTokenCurve Fit(IReadOnlyList<ScalingPoint> points)
    {
        var sizes = points.DistinctBy(p => p.N).OrderBy(p => p.N).ToList();
        if (sizes.Count < 2) return Proportional(points[0].FlopsPerToken / points[0].N);
        return new(sizes.Select(p => Math.Log(p.N)).ToArray(), sizes.Select(p => Math.Log(p.FlopsPerToken)).ToArray());
    }

    public double At(double n)
    {
        double x = Math.Log(n);
        int i = 0;
        while (i < lnN.Length - 2 && x > lnN[i + 1]) i++; // the segment holding x, or an end segment
        return Math.Exp(lnF[i] + (lnF[i + 1] - lnF[i]) * (x - lnN[i]) / (lnN[i + 1] - lnN[i]));
    }

    /// <summary>Training tokens that compute C buys at size N.</summary>
    public double Tokens(double compute, double n) => compute / At(n);
}
