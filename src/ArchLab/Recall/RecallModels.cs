using ArchLab.Mixers;
using ArchLab.Models;

namespace ArchLab.Recall;

/// <summary>Model configurations of the recall studies: one architecture name (or "hybrid") at a given width.</summary>
public static class RecallModels
{
    public const string Hybrid = "hybrid";

    /// <summary>Architectures a study may name: the registered mixers and "hybrid".</summary>
    public static IEnumerable<string> Names => MixerRegistry.Names.Append(Hybrid);

    /// <summary>
    /// A <paramref name="layers"/>-layer model of width <paramref name="width"/> for <paramref name="arch"/>; "hybrid" alternates
    /// <paramref name="hybridMixer"/> (even layers) with attention (odd layers). Heads: width / headDim (at least one).
    /// As in Zoology's MQAR runs (figure 2 configs), by default the head is tied to the embedding and blocks have no MLP
    /// (<paramref name="mlp"/> "none"; null keeps each architecture's own MLP). Everything else is each architecture's default
    /// (norms, Mamba's expand 2 and state 16).
    /// </summary>
    public static ModelConfig Create(string arch, int width, int layers, int vocabSize, int seqLen, int headDim = 32, string? hybridMixer = null, bool tiedEmbeddings = true, string? mlp = "none", bool positionEmbedding = false, bool noRope = false)
    {
        if (arch != Hybrid && !MixerRegistry.IsKnown(arch))
            throw new ArgumentException($"unknown architecture '{arch}' (known: {string.Join(", ", Names)})");
        if (width <= 0) throw new ArgumentException($"model width must be positive, got {width}");
        if (headDim <= 0 || headDim % 2 != 0) throw new ArgumentException($"head dimension must be a positive even number, got {headDim}");
        int heads = Math.Max(1, width / headDim);
        hybridMixer ??= Mamba.Spec.Name;
        string main = arch == Hybrid ? hybridMixer : MixerRegistry.Canonical(arch);
        try
        {
            return new ModelConfig
            {
                Arch = main, VocabSize = vocabSize, Dim = width, Layers = layers, Heads = heads, ContextLength = seqLen, TiedEmbeddings = tiedEmbeddings, Mlp = mlp, PositionEmbedding = positionEmbedding, NoRope = noRope,
                LayerPattern = arch == Hybrid ? Enumerable.Range(0, layers).Select(i => i % 2 == 0 ? hybridMixer : Attention.Spec.Name).ToArray() : null,
            }.Validate();
        }
        catch (ConfigException e) { throw new ArgumentException(e.Message); }
    }
}
