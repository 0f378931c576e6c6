using System.Text.Json;
using System.Text.Json.Serialization;

namespace ArchLab.Models;

/// <summary>
/// Shape of a language model: embedding → <see cref="Layers"/> blocks (norm → mixer → residual, norm → MLP → residual)
/// → final norm → head. Saved as <c>config.json</c> next to the weights; <c>with</c> expressions make sweep variants.
/// </summary>
public sealed record ModelConfig
{
    /// <summary>Mixer of every layer unless <see cref="LayerPattern"/> says otherwise: one of <see cref="Mixers.MixerRegistry.Names"/>
    /// (default: the first registered, <see cref="Mixers.MixerRegistry.DefaultName"/>).</summary>
    public string Arch { get; init; } = Mixers.MixerRegistry.DefaultName;
    public int VocabSize { get; init; } = 256;
    public int Dim { get; init; } = 128;
    public int Layers { get; init; } = 4;
    public int Heads { get; init; } = 4;
    /// <summary>Key/value heads for grouped-query attention; null means as many as <see cref="Heads"/>.</summary>
    public int? KvHeads { get; init; }
    /// <summary>Hidden width of the SwiGLU MLP; null derives it as LLaMA does (2/3·4·dim rounded up to 32).</summary>
    public int? FfnHidden { get; init; }
    public double NormEps { get; init; } = 1e-5;
    public double RopeTheta { get; init; } = 10000.0;
    /// <summary>Training context length (also the default generation window).</summary>
    public int ContextLength { get; init; } = 256;
    public bool TiedEmbeddings { get; init; } = false;
    /// <summary>Optional per-layer mixer names (hybrids); length must equal <see cref="Layers"/>.</summary>
    public string[]? LayerPattern { get; init; }
    /// <summary>rmsnorm or layernorm; null uses each mixer's own default.</summary>
    public string? Norm { get; init; }
    /// <summary>One of <see cref="Mlps.Names"/> ("none": the block is the mixer alone); null uses each mixer's own default.</summary>
    public string? Mlp { get; init; }
    /// <summary>RetNet: value width of all heads together (torchscale decoder_value_embed_dim); null means <see cref="Dim"/>.</summary>
    public int? ValueDim { get; init; }
    /// <summary>RetNet: chunk length of the chunkwise retention form (torchscale recurrent_chunk_size); null: each call is one chunk.</summary>
    public int? RetentionChunkSize { get; init; }
    /// <summary>RetNet: whole-sequence passes without a state use the chunkwise form, not the parallel one (torchscale chunkwise_recurrent).</summary>
    public bool? RetentionChunkwise { get; init; }
    /// <summary>Activation of the "glu" MLP: swish (default), gelu or relu.</summary>
    public string? GluActivation { get; init; }
    /// <summary>Width of RWKV's time mixing (key/value/receptance outputs, WKV channels); null means <see cref="Dim"/>.</summary>
    public int? DimAtt { get; init; }
    /// <summary>A norm right after the token embedding (RWKV's ln0); its kind is the first layer's norm. Unless a config
    /// sets it, the first layer's architecture decides (<see cref="Mixers.MixerSpec.EmbeddingNorm"/>: on for RWKV-4), so a
    /// hand-written config gets the official default without every caller copying it.</summary>
    [JsonIgnore]
    public bool EmbeddingNorm
    {
        get => embeddingNorm ?? ArchitectureEmbeddingNorm;
        init => EmbeddingNormSetting = value;
    }

    /// <summary>What the config file says about <see cref="EmbeddingNorm"/> (null: the architecture's default). Written only
    /// when it differs from that default, so configs stay as short as before.</summary>
    [JsonPropertyName("embedding_norm")]
    public bool? EmbeddingNormSetting
    {
        get => embeddingNorm is bool set && set != ArchitectureEmbeddingNorm ? set : null;
        init => embeddingNorm = value;
    }
    readonly bool? embeddingNorm;

    bool ArchitectureEmbeddingNorm
    {
        get
        {
            string? first = LayerPattern is { Length: > 0 } pattern ? pattern[0] : Arch;
            return first is not null && Mixers.MixerRegistry.IsKnown(first) && Mixers.MixerRegistry.Spec(first).EmbeddingNorm;
        }
    }
    /// <summary>Learned absolute position embeddings (GPT-2 style, one per position up to <see cref="ContextLength"/>) added to
    /// the token embedding; off by default (LLaMA uses rotary positions only). Zoology's MQAR attention baseline has them.</summary>
    [JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingDefault)] public bool PositionEmbedding { get; init; }
    /// <summary>Attention without rotary positions (GPT-2 and Zoology's attention: positions only from
    /// <see cref="PositionEmbedding"/>, or none at all, "NoPE"); off by default.</summary>
    [JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingDefault)] public bool NoRope { get; init; }
    /// <summary>Attention: width of a head, apart from dim / heads (mamba_ssm MHA's head_dim); null: dim / heads.</summary>
    public int? AttentionHeadDim { get; init; }
    /// <summary>Attention: biases on the q, k and v projections (null: none, as LLaMA).</summary>
    public bool? QkvBias { get; init; }
    /// <summary>Attention: a bias on the output projection (null: none, as LLaMA).</summary>
    public bool? OutBias { get; init; }
    /// <summary>Attention: dimensions of each head that rotary positions turn, the first ones (null: all).</summary>
    public int? RotaryDim { get; init; }
    /// <summary>Attention: "meta" (null, pairs (2i, 2i+1), Meta's LLaMA) or "neox" (pairs (i, i + d/2), GPT-NeoX and flash_attn's
    /// non-interleaved layout).</summary>
    public string? RopeStyle { get; init; }
    /// <summary>Mamba: SSM state size N per channel (null: 16; Mamba-2: per head, null: 128).</summary>
    public int? DState { get; init; }
    /// <summary>Mamba: kernel width of the depthwise causal conv (null: 4).</summary>
    public int? DConv { get; init; }
    /// <summary>Mamba: inner width = ⌊expand · dim⌋ (null: 2; the official code allows fractions).</summary>
    public double? Expand { get; init; }
    /// <summary>Mamba: rank of the Δ projection (null: ⌈dim/16⌉, the official "auto").</summary>
    public int? DtRank { get; init; }
    /// <summary>Mamba: bias on the causal conv (null: true).</summary>
    public bool? ConvBias { get; init; }
    /// <summary>Mamba: biases on in_proj and out_proj (null: false).</summary>
    public bool? ProjBias { get; init; }
    /// <summary>Mamba-2: channels per SSD head, P (null: 64, the official headdim, or the inner width if narrower); heads = inner width / P.</summary>
    public int? SsmHeadDim { get; init; }
    /// <summary>Mamba-2: groups of heads sharing B and C, and of the gated norm (null: 1, the official ngroups).</summary>
    public int? SsmGroups { get; init; }
    /// <summary>Mamba-2: chunk length of the SSD chunked form (null: 64); changes the computation, not the function.</summary>
    public int? SsmChunkSize { get; init; }
    /// <summary>Mamba-2: the gated RMSNorm normalises before the SiLU(z) gate (null: false, norm(y · SiLU(z)), the official default).</summary>
    public bool? NormBeforeGate { get; init; }
    /// <summary>RWKV-7: ranks of the low-rank maps for the decay (official D_DECAY_LORA), the in-context learning rate
    /// (D_AAA_LORA), the value residual (D_MV_LORA) and the output gate (D_GATE_LORA); null: the official suggestion
    /// max(32, round(f·√dim/32)·32) with f = 2.5, 2.5, 1.7, 5.</summary>
    public int? DecayLora { get; init; }
    public int? IclrLora { get; init; }
    public int? ValueLora { get; init; }
    public int? GateLora { get; init; }
    /// <summary>Gated DeltaNet: size of a query/key head (fla head_dim; null: dim / heads). <see cref="Heads"/> is the
    /// number of query/key heads; the short-convolution width is <see cref="DConv"/>.</summary>
    public int? KeyHeadDim { get; init; }
    /// <summary>Gated DeltaNet: value head size = value_expand · key head size (fla expand_v; null: 2).</summary>
    public double? ValueExpand { get; init; }
    /// <summary>Gated DeltaNet: number of value heads, a multiple of <see cref="Heads"/> (fla num_v_heads, grouped value heads; null: heads).</summary>
    public int? ValueHeads { get; init; }
    /// <summary>Gated DeltaNet: output gate, a gated RMSNorm with g_proj (fla use_gate; null: true).</summary>
    public bool? OutputGate { get; init; }
    /// <summary>Gated DeltaNet: short causal convolutions on q, k and v (fla use_short_conv; null: true).</summary>
    public bool? ShortConv { get; init; }
    /// <summary>Gated DeltaNet: β in (0, 2) instead of (0, 1), allowing negative eigenvalues (fla allow_neg_eigval; null: false).</summary>
    public bool? NegativeEigenvalues { get; init; }
    /// <summary>Gated DeltaNet: chunk length of the chunked (WY) form (null: 64, fla's kernel default).</summary>
    public int? DeltaChunkSize { get; init; }

    [JsonIgnore] public int FfnHiddenSize => FfnHidden ?? LlamaFfnHidden(Dim, multipleOf: 32, multiplier: null);

    // One record per mixer family, its defaults resolved (the file keeps the fields flat; see MixerOptions.cs).
    [JsonIgnore] public AttentionOptions Attention => new(Dim, Heads, KvHeads, NoRope, AttentionHeadDim, QkvBias, OutBias, RotaryDim, RopeStyle);
    [JsonIgnore] public RwkvOptions Rwkv => new(Dim, DimAtt);
    [JsonIgnore] public RetentionOptions Retention => new(Dim, Heads, ValueDim, RetentionChunkSize, RetentionChunkwise);
    [JsonIgnore] public SsmOptions Ssm => new(Dim, DState, DConv, Expand, DtRank, ConvBias, ProjBias);

    public string MixerOf(int layer) => LayerPattern?[layer] ?? Arch;
    public string NormOf(int layer) => Norm ?? Mixers.MixerRegistry.Spec(MixerOf(layer)).DefaultNorm;
    public string MlpOf(int layer) => Mlp ?? Mixers.MixerRegistry.Spec(MixerOf(layer)).DefaultMlp;

    /// <summary>LLaMA's rule: h = int(2·4·dim/3), optionally scaled, rounded up to a multiple.</summary>
    /// <exception cref="ConfigException"><paramref name="multipleOf"/> or <paramref name="multiplier"/> is not positive, or the
    /// width is beyond <see cref="ModelLimits.MlpWidth"/>.</exception>
    public static int LlamaFfnHidden(int dim, int multipleOf, double? multiplier)
    {
        if (multipleOf <= 0) throw new ConfigException($"model config: 'multiple_of' must be positive, got {multipleOf}");
        if (multiplier is double bad && !(bad > 0 && double.IsFinite(bad)))
            throw new ConfigException($"model config: 'ffn_dim_multiplier' must be a positive number, got {bad}");
        double hidden = Math.Floor(2 * (4.0 * dim) / 3.0);
        if (multiplier is double m) hidden = Math.Floor(m * hidden);
        double rounded = multipleOf * Math.Ceiling(hidden / multipleOf);
        if (rounded > ModelLimits.MlpWidth)
            throw new ConfigException($"model config: the MLP width {rounded} (from dim {dim}, 'multiple_of' {multipleOf}, 'ffn_dim_multiplier' {multiplier?.ToString() ?? "none"}) is above the limit {ModelLimits.MlpWidth}");
        return (int)rounded;
    }

    /// <summary>Throws <see cref="ConfigException"/> naming the first field that makes no sense.</summary>
    public ModelConfig Validate()
    {
        if (Arch is null) throw new ConfigException("model config: 'arch' must be a mixer name, got null");
        if (LayerPattern is { } names && Array.IndexOf(names, null) is int nullAt and >= 0)
            throw new ConfigException($"model config: 'layer_pattern' entry {nullAt} must be a mixer name, got null");
        static void InRange(string name, long value, long max) => ConfigCheck.InRange(name, value, max);
        InRange("dim", Dim, ModelLimits.Width); InRange("vocab_size", VocabSize, ModelLimits.VocabSize);
        InRange("layers", Layers, ModelLimits.Layers); InRange("heads", Heads, ModelLimits.Width);
        InRange("context_length", ContextLength, ModelLimits.ContextLength);
        if (KvHeads is int kv) InRange("kv_heads", kv, ModelLimits.Width);
        if (FfnHidden is int f) InRange("ffn_hidden", f, ModelLimits.MlpWidth);
        if (NormEps <= 0 || !double.IsFinite(NormEps)) throw new ConfigException($"model config: 'norm_eps' must be a positive number, got {NormEps}");
        if (RopeTheta <= 0 || !double.IsFinite(RopeTheta)) throw new ConfigException($"model config: 'rope_theta' must be a positive number, got {RopeTheta}");
        if (LayerPattern is { } pattern && pattern.Length != Layers)
            throw new ConfigException($"model config: 'layer_pattern' has {pattern.Length} entries but 'layers' is {Layers}");
        var mixers = LayerPattern?.Distinct().ToArray() ?? [Arch];
        foreach (string mixer in mixers)
            if (!Mixers.MixerRegistry.IsKnown(mixer))
                throw new ConfigException($"model config: unknown mixer '{mixer}' (known: {string.Join(", ", Mixers.MixerRegistry.Names)})");
        foreach (string mixer in mixers) Mixers.MixerRegistry.Spec(mixer).ValidateConfig(this); // the options records its layers use
        if (Norm is not null && !Norms.Names.Contains(Norm))
            throw new ConfigException($"model config: unknown norm '{Norm}' (known: {string.Join(", ", Norms.Names)})");
        if (Mlp is not null && !Mlps.Names.Contains(Mlp))
            throw new ConfigException($"model config: unknown mlp '{Mlp}' (known: {string.Join(", ", Mlps.Names)})");
        if (GluActivation is not null && !GluMlp.Activations.Contains(GluActivation))
            throw new ConfigException($"model config: unknown 'glu_activation' '{GluActivation}' (known: {string.Join(", ", GluMlp.Activations)})");
        ModelLimits.CheckFitsInMemory(this, ModelSize.AvailableMemoryBytes);
        return this;
    }

    public static readonly JsonSerializerOptions Json = new()
    {
        PropertyNamingPolicy = JsonNamingPolicy.SnakeCaseLower,
        UnmappedMemberHandling = JsonUnmappedMemberHandling.Disallow,
        WriteIndented = true,
        DefaultIgnoreCondition = JsonIgnoreCondition.WhenWritingNull,
    };

    public string ToJson() => JsonSerializer.Serialize(this, Json);

    public static ModelConfig FromJson(string json, string source = "config")
    {
        try
        {
            var config = JsonSerializer.Deserialize<ModelConfig>(json, Json)
                         ?? throw new ConfigException($"{source}: empty model config");
            return config.Validate();
        }
        catch (JsonException e)
        {
            throw new ConfigException($"{source}: invalid model config: {IO.JsonErrors.Describe(e)}");
        }
        catch (ConfigException e) when (!e.Message.StartsWith(source, StringComparison.Ordinal))
        {
            throw new ConfigException($"{source}: {e.Message}");
        }
    }

    public static ModelConfig Load(string path) => FromJson(IO.InputFile.ReadAllText(path, "model config"), path);
}

/// <summary>A configuration that cannot be used; the message names the field.</summary>
public sealed class ConfigException(string message) : Exception(message);
