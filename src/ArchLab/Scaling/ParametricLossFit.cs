namespace ArchLab.Scaling;

/// <summary>L(N, D) = E + A/N^α + B/D^β (Hoffmann et al. 2022, approach 3).</summary>
public sealed record ParametricLoss(double E, double A, double B, double Alpha, double Beta)
{
    public double Loss(double n, double d) => E + A / Math.Pow(n, Alpha) + B / Math.Pow(d, Beta);

    /// <summary>Exponent of N_opt ∝ C^a under C = k·N·D: a = β/(α+β).</summary>
    public double NExponent => Beta / (Alpha + Beta);
    /// <summary>Exponent of D_opt ∝ C^b: b = α/(α+β).</summary>
    public double DExponent => Alpha / (Alpha + Beta);

    /// <summary>Loss-minimising N and D for compute C = k·N·D (closed form: G = (αA/(βB))^(1/(α+β))).</summary>
    public (double N, double D) Optimal(double compute, double flopsPerParamToken)
    {
        double g = Math.Pow(Alpha * A / (Beta * B), 1 / (Alpha + Beta));
        double cOverK = compute / flopsPerParamToken;
        return (g * Math.Pow(cOverK, NExponent), Math.Pow(cOverK, DExponent) / g);
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
