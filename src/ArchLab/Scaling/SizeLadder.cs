using ArchLab.Mixers;
using ArchLab.Models;

namespace ArchLab.Scaling;

/// <summary>
/// Turns a target non-embedding parameter count into a model shape: among widths that are multiples of
/// <see cref="SweepSpec.DimMultiple"/> and depths 1–24, the shape whose real parameter count (counted on built models)
/// is closest to the target in log space, with a mild preference for width/depth near <see cref="SweepSpec.AspectRatio"/>.
/// </summary>
public static class SizeLadder
{
    const int MaxLayers = 24;

    /// <summary>The config of <paramref name="arch"/> at <paramref name="dim"/> × <paramref name="layers"/>, with the spec's shared settings.</summary>
    public static ModelConfig Shape(SweepSpec spec, string arch, int dim, int layers, int? heads = null)
    {
        int h = heads ?? HeadsFor(dim, spec.HeadDim);
        return new ModelConfig
        {
            Arch = MixerRegistry.Canonical(arch), VocabSize = spec.VocabSize, Dim = dim, Layers = layers, Heads = h,
            ContextLength = spec.SeqLen,
        }.Validate();
    }

    /// <summary>About dim / headDim heads, adjusted down until it divides dim into an even head width.</summary>
    public static int HeadsFor(int dim, int headDim)
    {
        for (int h = Math.Max(1, dim / headDim); h > 1; h--)
            if (dim % h == 0 && (dim / h) % 2 == 0) return h;
        return 1;
    }

    public static ModelConfig ForTarget(SweepSpec spec, string arch, long target, Dictionary<(string, int), (long PerLayer, long Fixed)>? cache = null)
    {
        cache ??= new();
        ModelConfig? best = null;
        double bestScore = double.PositiveInfinity;
        for (int dim = spec.DimMultiple; ; dim += spec.DimMultiple)
        {
            if (dim % 2 != 0) continue;
            var (perLayer, fixedPart) = Counts(spec, arch, dim, cache);
            if (perLayer + fixedPart > 4 * target && best is not null) break; // one layer is already far too big
            for (int layers = 1; layers <= MaxLayers; layers++)
            {
                long n = fixedPart + layers * perLayer;
                double score = Math.Abs(Math.Log((double)n / target)) + 0.5 * Math.Abs(Math.Log(dim / (double)layers / spec.AspectRatio));
                if (score < bestScore) { bestScore = score; best = Shape(spec, arch, dim, layers); }
                if (n > 2 * target) break;
            }
            if (dim > 4096) break;
        }
        return best!;
    }

    /// <summary>Non-embedding parameters per layer and outside the layers (the final norm), counted on 1- and 2-layer models.</summary>
    static (long PerLayer, long Fixed) Counts(SweepSpec spec, string arch, int dim, Dictionary<(string, int), (long, long)> cache)
    {
        if (cache.TryGetValue((arch, dim), out var hit)) return hit;
        long one = NonEmbedding(Shape(spec, arch, dim, 1)), two = NonEmbedding(Shape(spec, arch, dim, 2));
        var counts = (two - one, 2 * one - two);
        cache[(arch, dim)] = counts;
        return counts;
    }

    static long NonEmbedding(ModelConfig config)
    {
        using var model = new LanguageModel(config);
        return model.NonEmbeddingParameters;
    }
}
