namespace ArchLab.Inference;

/// <summary>
/// Draws tokens from logits in plain C# (no tensor ops per token): temperature 0 is greedy (the first largest logit);
/// otherwise logits / temperature, top-k (keep the logits ≥ the k-th largest), top-p (in descending order, drop a token
/// once the tokens before it reach p; the first always stays), then one draw from the softmax with a generator seeded by
/// <see cref="SamplingOptions.Seed"/>. The same logits and seed give the same tokens whichever engine made the logits.
/// Buffers are reused: no allocation per token once the first call has sized them.
/// </summary>
public sealed class Sampler
{
    readonly SamplingOptions options;
    readonly Random random;
    double[] weights = [];
    int[] order = [];

    public Sampler(SamplingOptions options)
    {
        this.options = options.Validate();
        random = new Random(unchecked((int)(options.Seed ^ (options.Seed >> 32))));
    }

    public int Next(ReadOnlySpan<float> logits)
    {
        if (logits.Length == 0) throw new ArgumentException("no logits to sample from");
        if (options.Temperature == 0) return ArgMax(logits);
        int n = logits.Length;
        if (weights.Length != n) { weights = new double[n]; order = new int[n]; }
        for (int i = 0; i < n; i++) weights[i] = logits[i] / options.Temperature;
        if (options.TopK > 0 && options.TopK < n)
        {
            SortDescending(n);
            double kth = weights[order[options.TopK - 1]];
            for (int i = 0; i < n; i++) if (weights[i] < kth) weights[i] = double.NegativeInfinity;
        }
        double max = double.NegativeInfinity;
        for (int i = 0; i < n; i++) max = Math.Max(max, weights[i]);
        double sum = 0;
        for (int i = 0; i < n; i++) sum += weights[i] = Math.Exp(weights[i] - max);
        for (int i = 0; i < n; i++) weights[i] /= sum;
        if (options.TopP < 1)
        {
            SortDescending(n);
            double before = 0;
            for (int j = 0; j < n; j++)
            {
                int i = order[j];
                double p = weights[i];
                if (j > 0 && before >= options.TopP) weights[i] = 0;
                before += p;
            }
        }
        double total = 0;
        for (int i = 0; i < n; i++) total += weights[i];
        double u = random.NextDouble() * total, cumulative = 0;
        int last = 0;
        for (int i = 0; i < n; i++)
        {
            if (weights[i] <= 0) continue;
            cumulative += weights[i];
            last = i;
            if (u < cumulative) return i;
        }
        return last;
    }

    /// <summary>order[0..n) = indices of <see cref="weights"/> from largest to smallest (ties by index).</summary>
    void SortDescending(int n)
    {
        for (int i = 0; i < n; i++) order[i] = i;
        var w = weights;
        Array.Sort(order, 0, n, Comparer<int>.Create((a, b) => w[b].CompareTo(w[a]) is var c && c != 0 ? c : a.CompareTo(b)));
    }

    public static int ArgMax(ReadOnlySpan<float> logits)
    {
        int best = 0;
        for (int i = 1; i < logits.Length; i++) if (logits[i] > logits[best]) best = i;
        return best;
    }
}
