namespace ArchLab.Models;

/// <summary>
/// Upper bounds on config fields (far above any model this testbed trains, low enough that every derived size fits its
/// integer type), and the check that a config's estimated bytes fit in the machine's memory, made before anything is allocated.
/// </summary>
public static class ModelLimits
{
    public const int Width = 1 << 20;          // dim, heads, kv_heads, dim_att, value_dim, dt_rank, expand·dim
    public const int MlpWidth = 1 << 22;       // ffn_hidden
    public const int VocabSize = 1 << 24;
    public const int Layers = 4096;
    public const int ContextLength = 1 << 24;  // also retention_chunk_size
    public const int StateSize = 1 << 16;      // d_state
    public const int ConvKernel = 1 << 10;     // d_conv

    /// <summary>Throws a <see cref="ConfigException"/> with the estimate and the field that contributes most when the
    /// config's parameters (float32) and one sequence's decode state need more than <paramref name="availableBytes"/>.</summary>
    public static void CheckFitsInMemory(ModelConfig config, long availableBytes)
    {
        double bytes = ModelSize.Bytes(config);
        if (bytes <= availableBytes) return;
        double parameters = ModelSize.Parameters(config), state = ModelSize.StateBytes(config);
        var (field, value) = LargestContributor(config);
        throw new ConfigException(
            $"model config: '{field}' = {value} makes the model too large: an estimated {ModelSize.Format(bytes)} " +
            $"({parameters:G3} parameters in float32 + {ModelSize.Format(state)} of decode state at context_length {config.ContextLength}), " +
            $"more than the {ModelSize.Format(availableBytes)} of memory here");
    }

    /// <summary>The field to name in the error: of those whose reset to the default at least halves the estimate, the one
    /// furthest above its default (a d_state of 65,536 is the culprit, not the 64 layers that multiply it).</summary>
    static (string Field, string Value) LargestContributor(ModelConfig config)
    {
        var defaults = new ModelConfig();
        double dim = config.Dim;
        var candidates = new (string Field, double? Value, double Default, ModelConfig Smaller)[]
        {
            ("vocab_size", config.VocabSize, defaults.VocabSize, config with { VocabSize = defaults.VocabSize }),
            ("dim", config.Dim, defaults.Dim, config with { Dim = config.Heads * Math.Max(1, defaults.Dim / config.Heads) }),
            ("layers", config.Layers, defaults.Layers, config with { Layers = 1, LayerPattern = config.LayerPattern?[..1] }),
            ("ffn_hidden", config.FfnHidden, 8 * dim / 3, config with { FfnHidden = null }),
            ("context_length", config.ContextLength, defaults.ContextLength, config with { ContextLength = defaults.ContextLength }),
            ("dim_att", config.DimAtt, dim, config with { DimAtt = null }),
            ("value_dim", config.ValueDim, dim, config with { ValueDim = null }),
            ("d_state", config.DState, 16, config with { DState = null }),
            ("d_conv", config.DConv, 4, config with { DConv = null }),
            ("expand", config.Expand, 2, config with { Expand = null }),
            ("dt_rank", config.DtRank, Math.Ceiling(dim / 16), config with { DtRank = null }),
        };
        double bytes = ModelSize.Bytes(config);
        var present = candidates.Where(c => c.Value is not null).ToList();
        var significant = present.Where(c => ModelSize.Bytes(c.Smaller) <= bytes / 2).ToList();
        var best = significant.Count > 0
            ? significant.MaxBy(c => c.Value!.Value / c.Default)
            : present.MinBy(c => ModelSize.Bytes(c.Smaller));
        return (best.Field, best.Value!.Value.ToString(System.Globalization.CultureInfo.InvariantCulture));
    }
}
