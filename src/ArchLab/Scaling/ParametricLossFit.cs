namespace ArchLab.Scaling;

/// <summary>L(N, D) = E + A/N^α + B/D^β (Hoffmann et al. 2022, approach 3).</summary>
public sealed record ParametricLoss(double E, double A, double B, double Alpha, double Beta)
{
    public double Loss(double n, double d) => E + A / Math.Pow(n, Alpha) + B / Math.Pow(d, Beta);

    /// <summary>
    /// Exponent a of N_opt ∝ C^a when C = F(N)·D with F(N) = e^u·N^v: a = β/(α + vβ). With C = k·N·D (v = 1, Chinchilla's
    /// 6ND) this is β/(α+β).
    /// </summary>
    public double NExponent(FlopsPerTokenLaw flops) => Beta / (Alpha + flops.Exponent * Beta);

    /// <summary>Exponent b of D_opt ∝ C^b: b = 1 − v·a = α/(α + vβ).</summary>
    public double DExponent(FlopsPerTokenLaw flops) => Alpha / (Alpha + flops.Exponent * Beta);

    /// <summary>ln k_N of N_opt = k_N·C^a: setting dL/dN = 0 along D = C/F(N) gives
    /// N^(α+vβ) = αA·C^β / (vβB·e^(uβ)).</summary>
    public double LogNCoefficient(FlopsPerTokenLaw flops)
    {
        double v = flops.Exponent, u = flops.LogCoefficient;
        return (Math.Log(Alpha * A / (v * Beta * B)) - u * Beta) / (Alpha + v * Beta);
    }

    /// <summary>ln k_D of D_opt = k_D·C^b, from D_opt = C / F(N_opt).</summary>
    public double LogDCoefficient(FlopsPerTokenLaw flops) => -flops.LogCoefficient - flops.Exponent * LogNCoefficient(flops);

    /// <summary>The loss-minimising N and D that spend compute C = F(N)·D.</summary>
    public (double N, double D) Optimal(double compute, FlopsPerTokenLaw flops)
    {
        double n = Math.Exp(LogNCoefficient(flops) + NExponent(flops) * Math.Log(compute));
        return (n, flops.Tokens(compute, n));
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
