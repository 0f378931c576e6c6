namespace ArchLab.Models;

// The per-mixer parts of a ModelConfig, each with its defaults resolved and its own validation. The config file keeps
// these fields flat (the JSON of existing runs and checkpoints); ModelConfig exposes one record per mixer family, and a
// mixer's spec (Mixers.MixerSpec.ValidateConfig) validates only the records its layers use.

/// <summary>Attention heads (the transformer): grouped-query heads and rotary positions; for other official attentions
/// (mamba_ssm's MHA) a head width apart from dim/heads, biases, and partial rotary in the NeoX layout.</summary>
public sealed record AttentionOptions(int Dim, int Heads, int? KvHeads, bool NoRope, int? HeadWidth = null, bool? QkvBias = null,
                                      bool? OutBias = null, int? RotaryDim = null, string? RopeStyle = null)
{
    /// <summary>Width of a head: attention_head_dim, else dim / heads.</summary>
    public int HeadDim => HeadWidth ?? Dim / Heads;
    /// <summary>Key/value heads; <see cref="Heads"/> unless grouped-query attention asks for fewer.</summary>
    public int KvHeadCount => KvHeads ?? Heads;

    public static readonly string[] RopeStyles = ["meta", "neox"];

    public void Validate()
    {
        if (HeadWidth is int width) ConfigCheck.InRange("attention_head_dim", width, ModelLimits.Width);
        else ConfigCheck.DividesDim(Dim, Heads);
        if (!NoRope && RotaryDim is null && HeadDim % 2 != 0)
            throw new ConfigException($"model config: head dimension {HeadDim} must be even for rotary embeddings (or set 'rotary_dim' or 'no_rope')");
        if (RotaryDim is int rd && (rd <= 0 || rd % 2 != 0 || rd > HeadDim))
            throw new ConfigException($"model config: 'rotary_dim' must be even and between 2 and the attention head width {HeadDim}, got {rd}");
        if (RopeStyle is not null && !RopeStyles.Contains(RopeStyle))
            throw new ConfigException($"model config: 'rope_style' must be one of {string.Join(", ", RopeStyles)}, got \"{RopeStyle}\"");
        if (Heads % KvHeadCount != 0) throw new ConfigException($"model config: 'heads' ({Heads}) must be a multiple of 'kv_heads' ({KvHeadCount})");
    }
}

/// <summary>RWKV's time mixing: its width (key/value/receptance outputs, WKV channels).</summary>
public sealed record RwkvOptions(int Dim, int? DimAtt)
{
    /// <summary>dim_att; <see cref="Dim"/> unless set.</summary>
    public int DimAttention => DimAtt ?? Dim;

    public void Validate()
    {
        if (DimAtt is int da) ConfigCheck.InRange("dim_att", da, ModelLimits.Width);
    }
}

/// <summary>RetNet's multi-scale retention: value width, heads (their key dimension is rotated in pairs), chunkwise form.</summary>
public sealed record RetentionOptions(int Dim, int Heads, int? ValueDim, int? ChunkSize, bool? Chunkwise)
{
    /// <summary>Value width of all heads together; <see cref="Dim"/> unless set.</summary>
    public int ValueWidth => ValueDim ?? Dim;

    public void Validate()
    {
        ConfigCheck.DividesDim(Dim, Heads);
        if (Dim / Heads % 2 != 0) throw new ConfigException($"model config: head dimension dim/heads = {Dim / Heads} must be even for rotary embeddings");
        if (ValueDim is int vd)
        {
            ConfigCheck.InRange("value_dim", vd, ModelLimits.Width);
            if (vd % Heads != 0) throw new ConfigException($"model config: 'value_dim' ({vd}) must be divisible by 'heads' ({Heads})");
        }
        if (ChunkSize is int rc) ConfigCheck.InRange("retention_chunk_size", rc, ModelLimits.ContextLength);
        if (Chunkwise == true && ChunkSize is null) throw new ConfigException("model config: 'retention_chunkwise' needs 'retention_chunk_size'");
    }
}

/// <summary>Mamba's selective state space: state size, conv width, expansion, Δ rank and biases, with the official defaults.</summary>
public sealed record SsmOptions(int Dim, int? DState, int? DConv, double? Expand, int? DtRank, bool? ConvBias, bool? ProjBias)
{
    /// <summary>State size N per channel (default 16).</summary>
    public int StateSize => DState ?? 16;
    /// <summary>Kernel width of the depthwise causal conv (default 4).</summary>
    public int ConvKernel => DConv ?? 4;
    /// <summary>Inner width ⌊expand · dim⌋ (expand default 2; the official code allows fractions).</summary>
    public int InnerDim => (int)Math.Min(InnerWidth, int.MaxValue);
    /// <summary><see cref="InnerDim"/> as a double, for size checks of configs too large to build.</summary>
    public double InnerWidth => Math.Floor((Expand ?? 2) * Dim);
    /// <summary>Rank of the Δ projection (default ⌈dim/16⌉, the official "auto").</summary>
    public int DtRankSize => DtRank ?? (Dim + 15) / 16;
    public bool HasConvBias => ConvBias ?? true;
    public bool HasProjBias => ProjBias ?? false;

    public void Validate()
    {
        if (DState is int ds) ConfigCheck.InRange("d_state", ds, ModelLimits.StateSize);
        if (DConv is int dc) ConfigCheck.InRange("d_conv", dc, ModelLimits.ConvKernel);
        if (Expand is double ex && !(ex > 0 && double.IsFinite(ex) && ex * Dim >= 1 && ex * Dim <= ModelLimits.Width))
            throw new ConfigException($"model config: 'expand' must be a positive number with 1 ≤ expand·dim ≤ {ModelLimits.Width}, got {ex}");
        if (DtRank is int dr) ConfigCheck.InRange("dt_rank", dr, ModelLimits.Width);
    }
}

/// <summary>The checks config records share; each names the field.</summary>
static class ConfigCheck
{
    public static void Positive(string name, long value)
    {
        if (value <= 0) throw new ConfigException($"model config: '{name}' must be positive, got {value}");
    }

    public static void InRange(string name, long value, long max)
    {
        Positive(name, value);
        if (value > max) throw new ConfigException($"model config: '{name}' = {value} is above the limit {max}");
    }

    public static void DividesDim(int dim, int heads)
    {
        if (dim % heads != 0) throw new ConfigException($"model config: 'dim' ({dim}) must be divisible by 'heads' ({heads})");
    }
}
