namespace ArchLab.Scaling;

/// <summary>A published value of the compute-optimal exponent a (N_opt ∝ C^a) to set a sweep's fits beside.</summary>
public sealed record ReferenceExponent(string Source, string Approach, double A);

/// <summary>Where a reference value lies against an architecture's 95% interval of a.</summary>
public enum Position { Below, Inside, Above }

/// <summary>One architecture's exponent a set against the published values.</summary>
public sealed record ReferenceCheck(string Arch, Estimate A, IReadOnlyList<(ReferenceExponent Reference, Position Position)> References);

/// <summary>
/// The difference a_X − a_Y of two architectures with its 95% interval over every pair of their bootstrap fits: the two
/// architectures' runs are separate experiments, so any fit of one beside any fit of the other is a draw of the difference
/// (their resamples share a random seed, which does not matter once every pair is taken). <see cref="Supported"/>: the interval excludes 0.
/// <see cref="Jointly"/> is the wider interval that holds for all the compared pairs together (Bonferroni: 95% / pairs
/// each); a difference it supports is not one of the chance exclusions that many 95% intervals side by side produce.
/// </summary>
public sealed record ExponentDifference(string First, string Second, Estimate Difference, Estimate Jointly)
{
    public bool Supported => Excludes0(Difference);
    public bool SupportedJointly => Excludes0(Jointly);
    static bool Excludes0(Estimate e) => e.Low > 0 || e.High < 0;
}

/// <summary>
/// Which differences a sweep's intervals support: each architecture's exponent a (one approach) against Chinchilla's and
/// Epoch AI's published values, and every pair of architectures against each other. Written by <c>archlab fit</c> as
/// <c>comparison.md</c> (<c>comparison-total.md</c> with total parameters).
/// </summary>
public static class ExponentComparison
{
    /// <summary>Hoffmann et al. (2022), approaches 1–3, and Epoch AI's refit of approach 3 (Besiroglu et al., 2024).</summary>
    public static readonly IReadOnlyList<ReferenceExponent> Published =
    [
        new("Chinchilla", "approach 1", 0.50),
        new("Chinchilla", "approach 2", 0.49),
        new("Chinchilla", "approach 3", 0.46),
        new("Epoch AI refit", "approach 3", 0.513),
    ];

    public static ReferenceCheck Check(string arch, Estimate a, IReadOnlyList<ReferenceExponent>? references = null) =>
        new(arch, a, (references ?? Published).Select(r => (r, r.A < a.Low ? Position.Below : r.A > a.High ? Position.Above : Position.Inside)).ToList());

    /// <param name="comparisons">How many differences are set side by side (the joint interval's Bonferroni divisor).</param>
    public static ExponentDifference Difference(string first, ApproachFit x, string second, ApproachFit y, int comparisons = 1)
    {
        if (x.NExponentSamples.Length == 0 || y.NExponentSamples.Length == 0)
            throw new ArgumentException($"{first} or {second} has no bootstrap fits to compare");
        var pairs = x.NExponentSamples.SelectMany(ax => y.NExponentSamples.Select(ay => ax - ay)).ToList();
        double value = x.NExponent.Value - y.NExponent.Value;
        return new ExponentDifference(first, second, ChinchillaFits.Interval(value, pairs),
            ChinchillaFits.Interval(value, pairs, JointCoverage(comparisons)));
    }

    /// <summary>Bonferroni: each of <paramref name="comparisons"/> intervals at 1 − 5 %/comparisons, so all hold together at 95 %.</summary>
    static double JointCoverage(int comparisons) => 1 - 0.05 / Math.Max(1, comparisons);

    /// <summary>The comparison of one approach's fits (3 unless told) as Markdown; architectures whose fit failed are left out.</summary>
    public static string Markdown(IReadOnlyList<ArchitectureFits> fits, string parameters, string command, int approach = 3) =>
        Markdown(fits.Select(f => (f.Arch, approach switch { 1 => f.Approach1, 2 => f.Approach2, _ => f.Approach3 }))
                     .Where(p => p.Item2 is not null).Select(p => (p.Arch, p.Item2!)).ToList(),
                 parameters, command, approach);

    /// <summary>The comparison of one approach's fits, one per architecture, as Markdown.</summary>
    public static string Markdown(IReadOnlyList<(string Arch, ApproachFit Fit)> fits, string parameters, string command, int approach = 3)
    {
        var usable = fits.Where(f => f.Fit.NExponentSamples.Length > 0).ToList();
        var w = new StringWriter();
        w.WriteLine($"# Exponent a of approach {approach} ({parameters} parameters) against published values and between architectures");
        w.WriteLine();
        w.WriteLine($"Made by `{command}`.");
        w.WriteLine();
        w.WriteLine("Intervals: bootstrap 95 % percentile. Against a published value: the interval includes it, or lies wholly above it");
        w.WriteLine("(a larger) or below it (a smaller). The published values were measured with total parameters and C = 6ND; here C is each");
        w.WriteLine("run's own training FLOPs" + (parameters == "total" ? "." : "; with non-embedding parameters the fit with total parameters (comparison-total.md) is the like-for-like one."));
        int pairs = usable.Count * (usable.Count - 1) / 2;
        string joint = $"{100 * JointCoverage(pairs):0.##} %";
        w.WriteLine("Between architectures: a difference is supported when its interval excludes 0. With many pairs side by side some");
        w.WriteLine($"95 % intervals exclude 0 by chance, so each pair also has the {joint} interval that holds for all {pairs} pairs together");
        w.WriteLine("(Bonferroni); \"jointly\" says whether that one excludes 0.");
        w.WriteLine();
        w.WriteLine("| arch | a [95 %] | " + string.Join(" | ", Published.Select(r => $"{r.Source} {r.Approach} ({r.A:0.00#})")) + " |");
        w.WriteLine("|---|---|" + string.Concat(Published.Select(_ => "---|")));
        foreach (var f in usable)
        {
            var check = Check(f.Arch, f.Fit.NExponent);
            w.WriteLine($"| {f.Arch} | {Format(check.A)} | " + string.Join(" | ", check.References.Select(r => r.Position switch
            {
                Position.Inside => "includes it",
                Position.Below => "a larger",
                _ => "a smaller",
            })) + " |");
        }
        w.WriteLine();
        w.WriteLine($"| a(first) − a(second) | difference [95 %] | supported | [{joint}] | jointly |");
        w.WriteLine("|---|---|---|---|---|");
        for (int i = 0; i < usable.Count; i++)
            for (int j = i + 1; j < usable.Count; j++)
            {
                var d = Difference(usable[i].Arch, usable[i].Fit, usable[j].Arch, usable[j].Fit, pairs);
                w.WriteLine($"| {d.First} − {d.Second} | {Format(d.Difference)} | {YesNo(d.Supported)} | [{d.Jointly.Low:F3}, {d.Jointly.High:F3}] | {YesNo(d.SupportedJointly)} |");
            }
        return w.ToString();
    }

    static string YesNo(bool b) => b ? "yes" : "no";

    static string Format(Estimate e) => $"{e.Value:F3} [{e.Low:F3}, {e.High:F3}]";
}
