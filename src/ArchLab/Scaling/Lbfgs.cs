namespace ArchLab.Scaling;

/// <summary>
/// Limited-memory BFGS (Nocedal and Wright, algorithm 7.4/7.5) with a backtracking Armijo line search, for the small
/// smooth problems of the scaling fits (a handful of parameters).
/// </summary>
public static class Lbfgs
{
    /// <summary>f(x) and its gradient written into the second argument.</summary>
    public delegate double Objective(double[] x, double[] gradient);

    public sealed record Result(double[] X, double Value, int Iterations, bool Converged);

    public static Result Minimize(Objective f, double[] start, int maxIterations = 500, int memory = 10,
        double gradientTolerance = 1e-10, double valueTolerance = 1e-14)
    {
        int n = start.Length;
        var x = (double[])start.Clone();
        var g = new double[n];
        double fx = f(x, g);
        var s = new List<double[]>(); var y = new List<double[]>(); var rho = new List<double>();
        var alpha = new double[memory];
        var xNew = new double[n]; var gNew = new double[n];
        for (int iter = 0; iter < maxIterations; iter++)
        {
            if (!double.IsFinite(fx)) return new Result(x, fx, iter, false);
            if (Norm(g) <= gradientTolerance) return new Result(x, fx, iter, true);
            // two-loop recursion: d = −H·g
            var q = (double[])g.Clone();
            for (int i = s.Count - 1; i >= 0; i--) { alpha[i] = rho[i] * Dot(s[i], q); Axpy(-alpha[i], y[i], q); }
            double gamma = s.Count > 0 ? Dot(s[^1], y[^1]) / Dot(y[^1], y[^1]) : 1.0 / Math.Max(Norm(g), 1e-300);
            for (int i = 0; i < n; i++) q[i] *= gamma;
            for (int i = 0; i < s.Count; i++) { double beta = rho[i] * Dot(y[i], q); Axpy(alpha[i] - beta, s[i], q); }
            var d = q; for (int i = 0; i < n; i++) d[i] = -d[i];
            double slope = Dot(g, d);
            if (slope >= 0) // not a descent direction: forget the curvature pairs, take a scaled steepest-descent step
            {
                s.Clear(); y.Clear(); rho.Clear();
                double scale = 1.0 / Math.Max(Norm(g), 1e-300);
                for (int i = 0; i < n; i++) d[i] = -g[i] * scale;
                slope = Dot(g, d);
            }
            double step = 1.0, fNew = double.NaN;
            bool accepted = false;
            for (int ls = 0; ls < 60; ls++)
            {
                for (int i = 0; i < n; i++) xNew[i] = x[i] + step * d[i];
                fNew = f(xNew, gNew);
                if (double.IsFinite(fNew) && fNew <= fx + 1e-4 * step * slope) { accepted = true; break; }
                step *= 0.5;
            }
            if (!accepted) return new Result(x, fx, iter, true); // no descent left at machine precision
            var si = new double[n]; var yi = new double[n];
            for (int i = 0; i < n; i++) { si[i] = xNew[i] - x[i]; yi[i] = gNew[i] - g[i]; }
            double sy = Dot(si, yi);
            if (sy > 1e-20)
            {
                if (s.Count == memory) { s.RemoveAt(0); y.RemoveAt(0); rho.RemoveAt(0); }
                s.Add(si); y.Add(yi); rho.Add(1 / sy);
            }
            double change = fx - fNew;
            Array.Copy(xNew, x, n); Array.Copy(gNew, g, n); fx = fNew;
            if (change <= valueTolerance * Math.Max(1, Math.Abs(fx)) && Norm(g) <= 1e3 * gradientTolerance) return new Result(x, fx, iter + 1, true);
        }
        return new Result(x, fx, maxIterations, false);
    }

    static double Dot(double[] a, double[] b) { double s = 0; for (int i = 0; i < a.Length; i++) s += a[i] * b[i]; return s; }
    static double Norm(double[] a) => Math.Sqrt(Dot(a, a));
    static void Axpy(double a, double[] x, double[] y) { for (int i = 0; i < x.Length; i++) y[i] += a * x[i]; }
}
