using ArchLab.Models;

namespace ArchLab.Mixers;

/// <summary>How to build one architecture's mixer, the norm and MLP its official blocks use, and whether its official
/// model normalises the embedding (RWKV's ln0). <paramref name="CreateAtLayer"/>, when set, replaces <paramref name="Create"/> for
/// mixers whose init or wiring depends on the layer index (RWKV-7: depth-dependent init, value residual from the first layer).</summary>
public sealed record MixerSpec(Func<ModelConfig, double, IMixer> Create, string DefaultNorm, string DefaultMlp, bool EmbeddingNorm = false,
    Func<ModelConfig, int, double, IMixer>? CreateAtLayer = null);

/// <summary>Maps the mixer names used in configs and on the command line to constructors.</summary>
public static class MixerRegistry
{
    static readonly Dictionary<string, MixerSpec> specs = new()
    {
        ["transformer"] = new((config, outputStd) => new Attention(config, outputStd), "rmsnorm", "swiglu"),
        ["retnet"] = new((config, outputStd) => new Retention(config), "rmsnorm", "glu"),
        ["rwkv4"] = new((config, outputStd) => new Rwkv4TimeMix(config, outputStd), "layernorm", "rwkv_channel_mix", EmbeddingNorm: true),
        ["mamba"] = new((config, _) => new Mamba(config), "rmsnorm", "none"), // official init, not the GPT-2 output std
        ["mamba2"] = new((config, _) => new Mamba2(config), "rmsnorm", "none"), // official init, not the GPT-2 output std
        [Rwkv7.Name] = new((config, _) => new Rwkv7TimeMix(config, 0), "layernorm", "rwkv7_channel_mix", EmbeddingNorm: true,
            CreateAtLayer: (config, layer, _) => new Rwkv7TimeMix(config, layer)), // official init
        ["gated_deltanet"] = new((config, _) => new GatedDeltaNet(config), "rmsnorm", "swiglu"), // fla's init: N(0, 0.02) everywhere
    };

    /// <summary>Other spellings users type.</summary>
    static readonly Dictionary<string, string> aliases = new() { ["attention"] = "transformer", ["llama"] = "transformer" };

    public static IEnumerable<string> Names => specs.Keys;

    public static string Canonical(string name) => aliases.GetValueOrDefault(name, name);

    public static bool IsKnown(string name) => specs.ContainsKey(Canonical(name));

    public static MixerSpec Spec(string name) =>
        specs.TryGetValue(Canonical(name), out var spec)
            ? spec
            : throw new ConfigException($"unknown mixer '{name}' (known: {string.Join(", ", Names)})");

    public static IMixer Create(string name, ModelConfig config, double outputInitStd, int layer = 0) =>
        Spec(name) is { CreateAtLayer: { } atLayer } ? atLayer(config, layer, outputInitStd) : Spec(name).Create(config, outputInitStd);
}
