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
        // Layer by layer (a mixer's count may depend on its depth: RWKV-7's first layer has no value residual); a config
        // with more layers than the limit is refused first, so a hostile one cannot make this loop long.
        if (config.Layers > ModelLimits.Layers)
            throw new ConfigException($"model config: 'layers' = {config.Layers} is above the limit {ModelLimits.Layers}");
        for (int layer = 0; layer < config.Layers; layer++) total += LayerParameters(config, config.MixerOf(layer), layer);
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

    static double LayerParameters(ModelConfig config, string mixer, int layer)
    {
        var spec = MixerRegistry.Spec(mixer);
        string norm = config.Norm ?? spec.DefaultNorm;
        string mlp = config.Mlp ?? spec.DefaultMlp;
        double dim = config.Dim;
        double total = NormParameters(norm, dim) + spec.ParameterCount(config, layer);
        if (mlp != "none") total += NormParameters(norm, dim) + MlpParameters(config, mlp);
        return total;
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

    /// <summary>The mixer's state plus a stateful MLP's (RWKV's channel mixing keeps the previous input).</summary>
    static double LayerStateElements(ModelConfig config, string mixer)
    {
        var spec = MixerRegistry.Spec(mixer);
        return spec.StateElements(config) + ((config.Mlp ?? spec.DefaultMlp) is "rwkv_channel_mix" or "rwkv7_channel_mix" ? config.Dim : 0);
    }
}
