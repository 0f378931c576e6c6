using ArchLab.Mixers;

namespace ArchLab.Models;

/// <summary>
/// Parameter count and decode-state bytes of a config, computed from its fields alone (nothing is allocated), so that a
/// config too large for the machine is refused before <see cref="LanguageModel"/> asks libtorch for the memory. The count
/// follows the modules' shapes exactly; it is a double because a hostile config's count need not fit in a long.
/// </summary>
public static class ModelSize
{
    /// <summary>Every parameter of the model the config builds.</summary>
    public static double Parameters(ModelConfig config)
    {
        double dim = config.Dim;
        double total = (double)config.VocabSize * dim; // embedding
        if (!config.TiedEmbeddings) total += (double)config.VocabSize * dim;
        if (config.PositionEmbedding) total += (double)config.ContextLength * dim;
        if (config.EmbeddingNorm) total += NormParameters(config.NormOf(0), dim);
        total += NormParameters(config.Norm ?? MixerRegistry.Spec(config.Arch).DefaultNorm, dim);
        // Layers of one kind are alike, so count each kind once and multiply (a config may ask for 10^9 layers).
        var layerKinds = config.LayerPattern is { } pattern
            ? pattern.GroupBy(name => name).Select(g => (Name: g.Key, Count: (double)g.Count()))
            : [(Name: config.Arch, Count: (double)config.Layers)];
        foreach (var (name, count) in layerKinds) total += count * LayerParameters(config, name);
        return total;
    }

    /// <summary>Bytes of the float32 decode state of one sequence at the full context length (KV cache or recurrent state).</summary>
    public static double StateBytes(ModelConfig config)
    {
        double elements = config.LayerPattern is { } pattern
            ? pattern.Sum(name => LayerStateElements(config, name))
            : (double)config.Layers * LayerStateElements(config, config.Arch);
        return 4 * elements;
    }

    /// <summary>Float32 bytes of the parameters plus one sequence's decode state: what loading and running the model needs at least.</summary>
    public static double Bytes(ModelConfig config) => 4 * Parameters(config) + StateBytes(config);

    /// <summary>The memory this process may use (the machine's, or its container's limit).</summary>
    public static long AvailableMemoryBytes => GC.GetGCMemoryInfo().TotalAvailableMemoryBytes;

    public static string Format(double bytes) => bytes switch
    {
        >= 1e12 => $"{bytes / 1e12:F1} TB",
        >= 1e9 => $"{bytes / 1e9:F1} GB",
        >= 1e6 => $"{bytes / 1e6:F1} MB",
        _ => $"{bytes / 1e3:F1} kB",
    };

    static double NormParameters(string kind, double dim) => kind == "layernorm" ? 2 * dim : dim;

    static double LayerParameters(ModelConfig config, string mixer)
    {
        string canonical = MixerRegistry.Canonical(mixer);
        var spec = MixerRegistry.Spec(canonical);
        string norm = config.Norm ?? spec.DefaultNorm;
        string mlp = config.Mlp ?? spec.DefaultMlp;
        double dim = config.Dim;
        double total = NormParameters(norm, dim) + MixerParameters(config, canonical);
        if (mlp != "none") total += NormParameters(norm, dim) + MlpParameters(config, mlp);
        return total;
    }

    static double MixerParameters(ModelConfig config, string mixer)
    {
        double dim = config.Dim;
        switch (mixer)
        {
            case "transformer":
                double headDim = config.Dim / config.Heads;
                double q = config.Heads * headDim, kv = (double)config.KvHeadCount * headDim;
                return dim * q + 2 * dim * kv + q * dim;
            case "retnet":
                double keys = config.Heads * (double)(config.Dim / config.Heads);
                double values = config.Heads * (double)((config.ValueDim ?? config.Dim) / config.Heads);
                return 2 * dim * keys + 2 * dim * values + values * dim;
            case "rwkv4":
                double att = config.DimAttention;
                return 2 * att + 3 * dim + 3 * dim * att + att * dim;
            case "mamba":
                double inner = Math.Floor((config.Expand ?? 2) * dim), state = config.SsmStateSize, rank = config.DtRankSize;
                bool projBias = config.ProjBias ?? false, convBias = config.ConvBias ?? true;
                return dim * 2 * inner + (projBias ? 2 * inner : 0)          // in_proj
                       + inner * config.ConvKernel + (convBias ? inner : 0)   // depthwise conv1d
                       + inner * (rank + 2 * state)                           // x_proj
                       + rank * inner + inner                                 // dt_proj
                       + inner * dim + (projBias ? dim : 0)                   // out_proj
                       + inner * state + inner;                               // A_log, D
            case "mamba2":
                double width = Math.Floor((config.Expand ?? 2) * dim), heads = width / (config.SsmHeadDim ?? 64);
                double bc = 2.0 * (config.SsmGroups ?? 1) * (config.DState ?? 128), into = 2 * width + bc + heads;
                bool biases = config.ProjBias ?? false;
                return dim * into + (biases ? into : 0)                                               // in_proj
                       + (width + bc) * config.ConvKernel + (config.ConvBias ?? true ? width + bc : 0)  // conv1d over x, B, C
                       + 3 * heads + width                                                            // dt_bias, A_log, D, norm
                       + width * dim + (biases ? dim : 0);                                            // out_proj
            case Rwkv7.Name:
                double loras = (config.DecayLora ?? Rwkv7.SuggestedLora(config.Dim, 2.5)) + (config.IclrLora ?? Rwkv7.SuggestedLora(config.Dim, 2.5))
                               + (config.ValueLora ?? Rwkv7.SuggestedLora(config.Dim, 1.7)) + (config.GateLora ?? Rwkv7.SuggestedLora(config.Dim, 5));
                return 4 * dim * dim + 2 * dim * loras + 14 * dim; // r, k, v, o; the LoRA pairs; x_*, w0, a0, v0, k_k, k_a, r_k, ln_x
            case "gated_deltanet":
                return GatedDeltaNet.ParameterCount(config);
            default:
                throw new ConfigException($"unknown mixer '{mixer}' (known: {string.Join(", ", MixerRegistry.Names)})");
        }
    }

    static double MlpParameters(ModelConfig config, string mlp)
    {
        double dim = config.Dim;
        return mlp switch
        {
            "swiglu" or "glu" => 3 * dim * FfnHidden(config),
            "rwkv_channel_mix" => 2 * dim + 2 * dim * (config.FfnHidden ?? 4.0 * dim) + dim * dim,
            "rwkv7_channel_mix" => dim + 2 * dim * (config.FfnHidden ?? 4.0 * dim),
            _ => 0,
        };
    }

    /// <summary><see cref="ModelConfig.FfnHiddenSize"/> without int overflow for huge widths.</summary>
    static double FfnHidden(ModelConfig config) =>
        config.FfnHidden ?? 32 * Math.Ceiling(Math.Floor(8.0 * config.Dim / 3) / 32);

    static double LayerStateElements(ModelConfig config, string mixer)
    {
        double dim = config.Dim;
        return MixerRegistry.Canonical(mixer) switch
        {
            "transformer" => 2.0 * config.ContextLength * config.KvHeadCount * (config.Dim / config.Heads),
            "retnet" => (double)config.Heads * (config.Dim / config.Heads) * ((config.ValueDim ?? config.Dim) / config.Heads) + config.Heads,
            "rwkv4" => dim + 3.0 * config.DimAttention + dim, // time-mix shift, a, b, p; channel-mix shift
            "mamba" => Math.Floor((config.Expand ?? 2) * dim) * (config.ConvKernel - 1 + config.SsmStateSize),
            "mamba2" => (Math.Floor((config.Expand ?? 2) * dim) + 2.0 * (config.SsmGroups ?? 1) * (config.DState ?? 128)) * (config.ConvKernel - 1)
                        + Math.Floor((config.Expand ?? 2) * dim) * (config.DState ?? 128),
            Rwkv7.Name => dim + dim * (config.Dim / config.Heads) + dim, // time-mix shift, WKV state H·N²; channel-mix shift
            "gated_deltanet" => GatedDeltaNet.StateElements(config),
            _ => 0,
        };
    }
}
