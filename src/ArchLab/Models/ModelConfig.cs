using System.Text.Json;
using System.Text.Json.Serialization;

namespace ArchLab.Models;

/// <summary>
/// Shape of a language model: embedding → <see cref="Layers"/> blocks (norm → mixer → residual, norm → MLP → residual)
/// → final norm → head. Saved as <c>config.json</c> next to the weights; <c>with</c> expressions make sweep variants.
/// </summary>
public sealed record ModelConfig
{
    /// <summary>Mixer of every layer unless <see cref="LayerPattern"/> says otherwise: transformer (more to come).</summary>
    public string Arch { get; init; } = "transformer";
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
    /// <summary>swiglu or none (more per architecture); null uses each mixer's own default.</summary>
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
    /// <summary>A norm right after the token embedding (RWKV's ln0); its kind is the first layer's norm.</summary>
    [JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingDefault)] public bool EmbeddingNorm { get; init; }
    /// <summary>Learned absolute position embeddings (GPT-2 style, one per position up to <see cref="ContextLength"/>) added to
    /// the token embedding; off by default (LLaMA uses rotary positions only). Zoology's MQAR attention baseline has them.</summary>
    [JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingDefault)] public bool PositionEmbedding { get; init; }
    /// <summary>Attention without rotary positions (GPT-2 and Zoology's attention: positions only from
    /// <see cref="PositionEmbedding"/>, or none at all, "NoPE"); off by default.</summary>
    [JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingDefault)] public bool NoRope { get; init; }
    /// <summary>Mamba: SSM state size N per channel (null: 16).</summary>
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

    [JsonIgnore] public int HeadDim => Dim / Heads;
    [JsonIgnore] public int KvHeadCount => KvHeads ?? Heads;
    [JsonIgnore] public int DimAttention => DimAtt ?? Dim;
    [JsonIgnore] public int FfnHiddenSize => FfnHidden ?? LlamaFfnHidden(Dim, multipleOf: 32, multiplier: null);
    [JsonIgnore] public int SsmStateSize => DState ?? 16;
    [JsonIgnore] public int ConvKernel => DConv ?? 4;
    [JsonIgnore] public int InnerDim => (int)((Expand ?? 2) * Dim);
    [JsonIgnore] public int DtRankSize => DtRank ?? (Dim + 15) / 16;

    public string MixerOf(int layer) => LayerPattern?[layer] ?? Arch;
    public string NormOf(int layer) => Norm ?? Mixers.MixerRegistry.Spec(MixerOf(layer)).DefaultNorm;
    public string MlpOf(int layer) => Mlp ?? Mixers.MixerRegistry.Spec(MixerOf(layer)).DefaultMlp;

    /// <summary>LLaMA's rule: h = int(2·4·dim/3), optionally scaled, rounded up to a multiple.</summary>
    public static int LlamaFfnHidden(int dim, int multipleOf, double? multiplier)
    {
        int hidden = (int)(2 * (4 * dim) / 3.0);
        if (multiplier is double m) hidden = (int)(m * hidden);
        return multipleOf * ((hidden + multipleOf - 1) / multipleOf);
    }

    /// <summary>Throws <see cref="ConfigException"/> naming the first field that makes no sense.</summary>
    public ModelConfig Validate()
    {
        void Positive(string name, long value) { if (value <= 0) throw new ConfigException($"model config: '{name}' must be positive, got {value}"); }
        Positive("vocab_size", VocabSize); Positive("dim", Dim); Positive("layers", Layers); Positive("heads", Heads);
        Positive("context_length", ContextLength);
        if (KvHeads is int kv) Positive("kv_heads", kv);
        if (FfnHidden is int f) Positive("ffn_hidden", f);
        if (DimAtt is int da) Positive("dim_att", da);
        if (DState is int ds) Positive("d_state", ds);
        if (DConv is int dc) Positive("d_conv", dc);
        if (Expand is double ex && !(ex > 0 && double.IsFinite(ex) && InnerDim >= 1))
            throw new ConfigException($"model config: 'expand' must be a positive number with expand·dim ≥ 1, got {ex}");
        if (DtRank is int dr) Positive("dt_rank", dr);
        if (NormEps <= 0 || !double.IsFinite(NormEps)) throw new ConfigException($"model config: 'norm_eps' must be a positive number, got {NormEps}");
        if (RopeTheta <= 0 || !double.IsFinite(RopeTheta)) throw new ConfigException($"model config: 'rope_theta' must be a positive number, got {RopeTheta}");
        if (Dim % Heads != 0) throw new ConfigException($"model config: 'dim' ({Dim}) must be divisible by 'heads' ({Heads})");
        if (HeadDim % 2 != 0) throw new ConfigException($"model config: head dimension dim/heads = {HeadDim} must be even for rotary embeddings");
        if (Heads % KvHeadCount != 0) throw new ConfigException($"model config: 'heads' ({Heads}) must be a multiple of 'kv_heads' ({KvHeadCount})");
        if (LayerPattern is { } pattern && pattern.Length != Layers)
            throw new ConfigException($"model config: 'layer_pattern' has {pattern.Length} entries but 'layers' is {Layers}");
        for (int i = 0; i < Layers; i++)
            if (!Mixers.MixerRegistry.IsKnown(MixerOf(i)))
                throw new ConfigException($"model config: unknown mixer '{MixerOf(i)}' (known: {string.Join(", ", Mixers.MixerRegistry.Names)})");
        if (Norm is not null && !Norms.Names.Contains(Norm))
            throw new ConfigException($"model config: unknown norm '{Norm}' (known: {string.Join(", ", Norms.Names)})");
        if (Mlp is not null && !Mlps.Names.Contains(Mlp))
            throw new ConfigException($"model config: unknown mlp '{Mlp}' (known: {string.Join(", ", Mlps.Names)})");
        if (ValueDim is int vd) { Positive("value_dim", vd); if (vd % Heads != 0) throw new ConfigException($"model config: 'value_dim' ({vd}) must be divisible by 'heads' ({Heads})"); }
        if (RetentionChunkSize is int rc) Positive("retention_chunk_size", rc);
        if (RetentionChunkwise == true && RetentionChunkSize is null) throw new ConfigException("model config: 'retention_chunkwise' needs 'retention_chunk_size'");
        if (GluActivation is not null && !GluMlp.Activations.Contains(GluActivation))
            throw new ConfigException($"model config: unknown 'glu_activation' '{GluActivation}' (known: {string.Join(", ", GluMlp.Activations)})");
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
            throw new ConfigException($"{source}: invalid model config: {e.Message}");
        }
    }

    public static ModelConfig Load(string path) => FromJson(File.ReadAllText(path), path);
}

/// <summary>A configuration that cannot be used; the message names the field.</summary>
public sealed class ConfigException(string message) : Exception(message);
