namespace ArchLab.Scaling;

/// <summary>L(N, D) = E + A/N^α + B/D^β (Hoffmann et al. 2022, approach 3).</summary>
public sealed record ParametricLoss(double E, double A, double B, double Alpha, double Beta)
{
    public double Loss(double n, double d) => E + A / Math.Pow(n, Alpha) + B / Math.Pow(d, Beta);

    /// <summary>Exponent a of N_opt ∝ C^a if compute were proportional to N·D (Chinchilla's C = 6ND): β/(α+β).</summary>
    public double ProportionalComputeNExponent => Beta / (Alpha + Beta);

    /// <summary>
    /// The loss-minimising N and D that spend compute C = F(N)·D: the minimum over ln N of L(N, C/F(N)), found on a grid of
    /// ln N in steps of 0.05 from N = 1 to 10^15 and refined by golden-section search. (For F = k·N^v the closed form is
    /// N^(α+vβ) = αA·C^β / (vβB·k^β), a = β/(α+vβ); F read off real runs is not one power law.)
    /// </summary>
    public (double N, double D) Optimal(double compute, FlopsPerTokenCurve flops)
    {
        double LossAt(double lnN) { double n = Math.Exp(lnN); return Loss(n, flops.Tokens(compute, n)); }
        const double step = 0.05, top = 34.5; // ln 10^15
        double best = 0, bestLoss = double.PositiveInfinity;
        for (double x = 0; x <= top; x += step)
        {
            double l = LossAt(x);
            if (l < bestLoss) { bestLoss = l; best = x; }
        }
        double lo = best - step, hi = best + step, g = (Math.Sqrt(5) - 1) / 2;
        double x1 = hi - g * (hi - lo), x2 = lo + g * (hi - lo), f1 = LossAt(x1), f2 = LossAt(x2);
        for (int i = 0; i < 60; i++)
        {
            if (f1 < f2) { hi = x2; x2 = x1; f2 = f1; x1 = hi - g * (hi - lo); f1 = LossAt(x1); }
            else { lo = x1; x1 = x2; f1 = f2; x2 = lo + g * (hi - lo); f2 = LossAt(x2); }
        }
        double nOpt = Math.Exp((lo + hi) / 2);
        return (nOpt, flops.Tokens(compute, nOpt));
    }
}

/// <summary>
/// Fits <see cref="ParametricLoss"/> as Chinchilla and Epoch AI's replication do: minimise Σ Huber_δ(LSE(a − α ln N,
/// b − β ln D, e) − ln L) over (a = ln A, b = ln B, e = ln E, α, β) with δ = 1e-3, by L-BFGS from a grid of starts,
/// keeping the best.
/// </summary>
public static class ParametricLossFit
{
    public const double HuberDelta = 1e-3;

    /// <summary>Epoch AI's grid: α, β ∈ {0, 0.5, …, 2}, e ∈ {−1, −0.5, …, 1}, a, b ∈ {0, 5, …, 25}.</summary>
    public static IReadOnlyList<double[]> DefaultGrid()
    {
        var starts = new List<double[]>();
        double[] exps = [0, 0.5, 1, 1.5, 2], es = [-1, -0.5, 0, 0.5, 1], abs = [0, 5, 10, 15, 20, 25];
        foreach (var a in abs) foreach (var b in abs) foreach (var e in es) foreach (var al in exps) foreach (var be in exps)
            starts.Add([a, b, e, al, be]);
        return starts;
    }

    /// <summary>A coarse grid (3 values per coordinate, 243 starts) for quick looks and tests.</summary>
    public static IReadOnlyList<double[]> CoarseGrid()
    {
        var starts = new List<double[]>();
        double[] exps = [0.25, 0.75, 1.5], es = [-1, 0, 1], abs = [0, 8, 16];
        foreach (var a in abs) foreach (var b in abs) foreach (var e in es) foreach (var al in exps) foreach (var be in exps)
            starts.Add([a, b, e, al, be]);
        return starts;
    }

    public sealed record Fit(ParametricLoss Loss, double Objective, double[] Theta, IReadOnlyList<double[]> BestStarts);

    /// <summary>Best fit over <paramref name="starts"/> (θ = a, b, e, α, β); also returns the starts ranked best first.</summary>
    /// <param name="progress">Called after each start with (starts done, starts in all).</param>
    public static Fit Run(IReadOnlyList<double> n, IReadOnlyList<double> d, IReadOnlyList<double> loss, IReadOnlyList<double[]>? starts = null,
        int keepStarts = 8, Action<int, int>? progress = null)
    {
        if (n.Count < 5) throw new ArgumentException("the parametric fit needs at least five runs");
        double[] lnN = n.Select(v => Math.Log(v)).ToArray(), lnD = d.Select(v => Math.Log(v)).ToArray(), lnL = loss.Select(v => Math.Log(v)).ToArray();
        var ranked = new List<(double Value, double[] Theta, double[] Start)>();
        var grid = starts ?? DefaultGrid();
        for (int i = 0; i < grid.Count; i++)
        {
            var r = Lbfgs.Minimize((theta, grad) => Objective(theta, grad, lnN, lnD, lnL), grid[i], maxIterations: 300);
            if (double.IsFinite(r.Value)) ranked.Add((r.Value, r.X, grid[i]));
            progress?.Invoke(i + 1, grid.Count);
        }
        if (ranked.Count == 0) throw new InvalidOperationException("the parametric fit diverged from every start");
        ranked.Sort((p, q) => p.Value.CompareTo(q.Value));
        var best = ranked[0].Theta;
        return new Fit(new ParametricLoss(Math.Exp(best[2]), Math.Exp(best[0]), Math.Exp(best[1]), best[3], best[4]),
            ranked[0].Value, best, ranked.Take(keepStarts).Select(r => r.Start).ToList());
    }

    static double Objective(double[] t, double[] grad, double[] lnN, double[] lnD, double[] lnL)
    {
        double a = t[0], b = t[1], e = t[2], alpha = t[3], beta = t[4];
        Array.Clear(grad);
        double total = 0;
        for (int i = 0; i < lnN.Length; i++)
        {
            double u = a - alpha * lnN[i], v = b - beta * lnD[i];
            double m = Math.Max(u, Math.Max(v, e));
            double eu = Math.Exp(u - m), ev = Math.Exp(v - m), ee = Math.Exp(e - m), sum = eu + ev + ee;
            double r = m + Math.Log(sum) - lnL[i];
            double abs = Math.Abs(r);
            total += abs <= HuberDelta ? 0.5 * r * r : HuberDelta * (abs - 0.5 * HuberDelta);
            double dr = abs <= HuberDelta ? r : HuberDelta * Math.Sign(r);
            double wu = eu / sum, wv = ev / sum, we = ee / sum;
            grad[0] += dr * wu; grad[1] += dr * wv; grad[2] += dr * we;
            grad[3] -= dr * wu * lnN[i]; grad[4] -= dr * wv * lnD[i];
        }
        return total;
    }
}
