using ArchLab.Mixers;
using ArchLab.Models;

namespace ArchLab.Scaling;

/// <summary>
/// Turns a target non-embedding parameter count into a model shape: among widths that are multiples of
/// <see cref="SweepSpec.DimMultiple"/> and depths 1–24 (whole repeats of a hybrid's layer pattern), the shape whose real
/// parameter count (counted on built models) is closest to the target in log space, with a mild preference for
/// width/depth near <see cref="SweepSpec.AspectRatio"/>.
/// </summary>
public static class SizeLadder
{
    const int MaxLayers = 24;

    /// <summary>The config of <paramref name="arch"/> at <paramref name="dim"/> × <paramref name="layers"/>, with the spec's shared settings.</summary>
    public static ModelConfig Shape(SweepSpec spec, string arch, int dim, int layers, int? heads = null) =>
        Shape(spec, SweepArchitecture.Plain(arch), dim, layers, heads);

    /// <summary>The config of an architecture entry (plain or hybrid) at <paramref name="dim"/> × <paramref name="layers"/>.</summary>
    public static ModelConfig Shape(SweepSpec spec, SweepArchitecture arch, int dim, int layers, int? heads = null)
    {
        int h = heads ?? HeadsFor(dim, spec.HeadDim);
        return new ModelConfig
        {
            Arch = MixerRegistry.Canonical(arch.FirstMixer), LayerPattern = arch.PatternFor(layers), VocabSize = spec.VocabSize,
            Dim = dim, Layers = layers, Heads = h, ContextLength = spec.SeqLen,
        }.Validate();
    }

    /// <summary>About dim / headDim heads, adjusted down until it divides dim into an even head width.</summary>
    public static int HeadsFor(int dim, int headDim)
    {
        for (int h = Math.Max(1, dim / headDim); h > 1; h--)
            if (dim % h == 0 && (dim / h) % 2 == 0) return h;
        return 1;
    }

    public static ModelConfig ForTarget(SweepSpec spec, string arch, long target, Dictionary<(string, int), (long PerLayer, long Fixed)>? cache = null) =>
        ForTarget(spec, SweepArchitecture.Plain(arch), target, cache);

    public static ModelConfig ForTarget(SweepSpec spec, SweepArchitecture arch, long target, Dictionary<(string, int), (long PerLayer, long Fixed)>? cache = null)
    {
        cache ??= new();
        int step = arch.PatternLength; // depth grows by whole patterns
        ModelConfig? best = null;
        double bestScore = double.PositiveInfinity;
        for (int dim = spec.DimMultiple; ; dim += spec.DimMultiple)
        {
            if (dim % 2 != 0) continue;
            var (perBlock, fixedPart) = Counts(spec, arch, dim, cache);
            if (perBlock + fixedPart > 4 * target && best is not null) break; // one block is already far too big
            for (int layers = step; layers <= MaxLayers; layers += step)
            {
                long n = fixedPart + layers / step * perBlock;
                double score = Math.Abs(Math.Log((double)n / target)) + 0.5 * Math.Abs(Math.Log(dim / (double)layers / spec.AspectRatio));
                if (score < bestScore) { bestScore = score; best = Shape(spec, arch, dim, layers); }
                if (n > 2 * target) break;
            }
            if (dim > 4096) break;
        }
        return best ?? throw new ConfigException($"sweep spec: no shape of '{arch.Name}' up to {MaxLayers} layers comes near {target:N0} parameters");
    }

    /// <summary>Non-embedding parameters per block (one layer, or one repeat of a hybrid's pattern) and outside the layers
    /// (the final norm), counted on 1- and 2-block models.</summary>
    static (long PerBlock, long Fixed) Counts(SweepSpec spec, SweepArchitecture arch, int dim, Dictionary<(string, int), (long, long)> cache)
    {
        string key = arch.Label + ":" + string.Join(',', arch.LayerPattern ?? []);
        if (cache.TryGetValue((key, dim), out var hit)) return hit;
        int step = arch.PatternLength;
        long one = NonEmbedding(Shape(spec, arch, dim, step)), two = NonEmbedding(Shape(spec, arch, dim, 2 * step));
        var counts = (two - one, 2 * one - two);
        cache[(key, dim)] = counts;
        return counts;
    }

    /// <summary>Counted from the config's shapes (<see cref="ModelSize"/>, nothing allocated): the ladder looks at hundreds of
    /// candidate shapes, some of millions of parameters. The planner counts the chosen shapes on built models.</summary>
    static long NonEmbedding(ModelConfig config)
    {
        double embedding = (double)config.VocabSize * config.Dim * (config.TiedEmbeddings ? 1 : 2)
                           + (config.PositionEmbedding ? (double)config.ContextLength * config.Dim : 0);
        return (long)(ModelSize.Parameters(config) - embedding);
    }
}
