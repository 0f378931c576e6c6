namespace ArchLab.Scaling;

/// <summary>Ordinary least squares for the small fits of the scaling analysis (lines and parabolas, in double precision).</summary>
public static class Regression
{
    /// <summary>y = intercept + slope·x.</summary>
    public static (double Intercept, double Slope) Line(IReadOnlyList<double> x, IReadOnlyList<double> y)
    {
        if (x.Count != y.Count || x.Count < 2) throw new ArgumentException("a line fit needs at least two points");
        double mx = x.Average(), my = y.Average(), sxx = 0, sxy = 0;
        for (int i = 0; i < x.Count; i++) { sxx += (x[i] - mx) * (x[i] - mx); sxy += (x[i] - mx) * (y[i] - my); }
        if (sxx <= 0) throw new ArgumentException("a line fit needs two distinct x values");
        double slope = sxy / sxx;
        return (my - slope * mx, slope);
    }

    /// <summary>y = c0 + c1·x + c2·x² (x centred internally for conditioning).</summary>
    public static (double C0, double C1, double C2) Parabola(IReadOnlyList<double> x, IReadOnlyList<double> y)
    {
        if (x.Count != y.Count || x.Distinct().Count() < 3) throw new ArgumentException("a parabola fit needs three distinct x values");
        double m = x.Average();
        // normal equations in u = x − m
        double s0 = x.Count, s1 = 0, s2 = 0, s3 = 0, s4 = 0, t0 = 0, t1 = 0, t2 = 0;
        for (int i = 0; i < x.Count; i++)
        {
            double u = x[i] - m, u2 = u * u;
            s1 += u; s2 += u2; s3 += u2 * u; s4 += u2 * u2;
            t0 += y[i]; t1 += u * y[i]; t2 += u2 * y[i];
        }
        var (b0, b1, b2) = Solve3([s0, s1, s2, s1, s2, s3, s2, s3, s4], [t0, t1, t2]);
        // back from u = x − m: b0 + b1(x−m) + b2(x−m)²
        return (b0 - b1 * m + b2 * m * m, b1 - 2 * b2 * m, b2);
    }

    static (double, double, double) Solve3(double[] a, double[] b)
    {
        double Det(double[] m) => m[0] * (m[4] * m[8] - m[5] * m[7]) - m[1] * (m[3] * m[8] - m[5] * m[6]) + m[2] * (m[3] * m[7] - m[4] * m[6]);
        double d = Det(a);
        if (Math.Abs(d) < 1e-300) throw new ArgumentException("singular parabola fit");
        double[] Replace(int col) { var m = (double[])a.Clone(); for (int r = 0; r < 3; r++) m[3 * r + col] = b[r]; return m; }
        return (Det(Replace(0)) / d, Det(Replace(1)) / d, Det(Replace(2)) / d);
    }
}
