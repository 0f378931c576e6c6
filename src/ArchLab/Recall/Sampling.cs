namespace ArchLab.Recall;

/// <summary>Draws used by the task generators (all from one <see cref="Random"/>, so a seed fixes the stream).</summary>
public static class Sampling
{
    /// <summary><paramref name="count"/> distinct integers from [<paramref name="from"/>, <paramref name="to"/>), in draw order.</summary>
    public static int[] Distinct(Random rng, int from, int to, int count)
    {
        int range = to - from;
        if (count > range) throw new ArgumentException($"cannot draw {count} distinct values from a range of {range}");
        var pool = Enumerable.Range(from, range).ToArray();
        for (int i = 0; i < count; i++)
        {
            int j = i + rng.Next(range - i);
            (pool[i], pool[j]) = (pool[j], pool[i]);
        }
        return pool[..count];
    }

    /// <summary>
    /// <paramref name="count"/> distinct indices in [0, weights.Length), drawn one after another with probability proportional
    /// to the weights of those not yet drawn (numpy's choice(replace=False, p=...)).
    /// </summary>
    public static int[] WeightedDistinct(Random rng, IReadOnlyList<double> weights, int count)
    {
        if (count > weights.Count) throw new ArgumentException($"cannot draw {count} distinct indices from {weights.Count}");
        var left = weights.ToArray();
        var drawn = new int[count];
        for (int i = 0; i < count; i++)
        {
            double total = left.Sum();
            double u = rng.NextDouble() * total;
            int pick = -1;
            for (int j = 0; j < left.Length; j++)
            {
                if (left[j] <= 0) continue;
                pick = j;
                u -= left[j];
                if (u < 0) break;
            }
            drawn[i] = pick;
            left[pick] = 0;
        }
        return drawn;
    }

    /// <summary>Zoology's power law over query gaps 0..space−1: p(g) ∝ a·(g+1)^(a−1); a = 1 is uniform, small a favours short gaps.</summary>
    public static double[] PowerLaw(int space, double powerA)
    {
        var p = Enumerable.Range(1, space).Select(k => powerA * Math.Pow(k, powerA - 1)).ToArray();
        double sum = p.Sum();
        return p.Select(v => v / sum).ToArray();
    }

    /// <summary>A seed for stream <paramref name="stream"/> of <paramref name="seed"/> (SplitMix64 finaliser), so streams do not overlap.</summary>
    public static int DeriveSeed(int seed, int stream)
    {
        ulong z = ((ulong)(uint)seed << 32 | (uint)stream) + 0x9E3779B97F4A7C15UL;
        z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9UL;
        z = (z ^ (z >> 27)) * 0x94D049BB133111EBUL;
        z ^= z >> 31;
        return (int)(z & 0x7FFFFFFF);
    }
}
