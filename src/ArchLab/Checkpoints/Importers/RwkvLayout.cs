using static TorchSharp.torch;

namespace ArchLab.Checkpoints.Importers;

/// <summary>The tensor names and vector shapes that BlinkDL's RWKV-4 and RWKV-7 checkpoints share (emb, ln0, ln_out, head;
/// blocks.N.ln1/ln2/att/ffn).</summary>
static class RwkvLayout
{
    /// <summary>(official name, ArchLab name) of the tensors outside the blocks.</summary>
    public static IEnumerable<(string Official, string Ours)> OuterNames()
    {
        yield return ("emb.weight", "embed.weight");
        yield return ("blocks.0.ln0.weight", "embed_norm.weight");
        yield return ("blocks.0.ln0.bias", "embed_norm.bias");
        yield return ("ln_out.weight", "norm.weight");
        yield return ("ln_out.bias", "norm.bias");
        yield return ("head.weight", "head.weight");
    }

    /// <summary>The official tensors under their ArchLab names, the per-channel vectors (<paramref name="isVector"/>) reshaped
    /// from [1, 1, C] to [C].</summary>
    public static Dictionary<string, Tensor> MapWeights(IReadOnlyDictionary<string, Tensor> official,
                                                        IEnumerable<(string Official, string Ours)> names, Func<string, bool> isVector, int dim)
    {
        var map = new Dictionary<string, Tensor>();
        foreach (var (from, to) in names)
            if (official.TryGetValue(from, out var t))
                map[to] = isVector(from) ? Squeeze(t, dim) : t;
        return map;
    }

    /// <summary>[1, 1, C] → [C], as the runners do. Any other shape is passed on unchanged so that the loader's shape
    /// error shows the file's own shape.</summary>
    static Tensor Squeeze(Tensor t, int dim) => t.shape.SequenceEqual([1L, 1L, dim]) ? t.reshape(dim) : t;

    /// <summary>The official name of an ArchLab parameter.</summary>
    public static string OfficialName(string archlabName)
    {
        if (archlabName is "embed.weight") return "emb.weight";
        if (archlabName.StartsWith("embed_norm.", StringComparison.Ordinal)) return "blocks.0.ln0." + archlabName["embed_norm.".Length..];
        if (archlabName.StartsWith("norm.", StringComparison.Ordinal)) return "ln_out." + archlabName["norm.".Length..];
        return archlabName.Replace(".mixer_norm.", ".ln1.").Replace(".mlp_norm.", ".ln2.")
                          .Replace(".mixer.", ".att.").Replace(".mlp.", ".ffn.");
    }
}
