using System.Text.Json;
using ArchLab.Models;
using static TorchSharp.torch;

namespace ArchLab.Checkpoints.Importers;

/// <summary>
/// flash-linear-attention's <c>GatedDeltaNetForCausalLM</c> layout: a <c>GatedDeltaNetConfig</c> config.json (hidden_size,
/// num_hidden_layers, num_heads, head_dim, num_v_heads, expand_v, use_gate, use_short_conv, allow_neg_eigval, conv_size,
/// hidden_ratio, intermediate_size, norm_eps, vocab_size, tie_word_embeddings, ...) and tensors model.embeddings,
/// model.layers.N.attn_norm, model.layers.N.attn.{q,k,v,a,b,g,o}_proj, A_log, dt_bias, {q,k,v}_conv1d, o_norm,
/// model.layers.N.mlp_norm, model.layers.N.mlp.{gate,up,down}_proj, model.norm, lm_head. The mixer's tensors load unchanged
/// into <see cref="Mixers.GatedDeltaNet"/>; GatedMLP's gate_proj/up_proj/down_proj are SwiGLU's w1/w3/w2.
/// Accepted: grouped value heads (num_v_heads a multiple of num_heads), any expand_v giving whole value heads, with or
/// without the output gate and the short convolutions, allow_neg_eigval, hidden_ratio or intermediate_size, tied or untied
/// head, attn_mode chunk or fused_recurrent (the same function). Refused with a <see cref="ConfigException"/> naming the
/// field: hybrid attention layers ('attn'), hidden_act other than swish, attention residuals ('attnres_block_size').
/// </summary>
public sealed class GatedDeltaNetImporter : IModelImporter
{
    static readonly HashSet<string> KnownFields =
    [
        "attn_mode", "hidden_size", "expand_v", "use_gate", "use_short_conv", "allow_neg_eigval", "conv_size", "head_dim",
        "num_heads", "num_v_heads", "max_position_embeddings", "hidden_ratio", "intermediate_size", "hidden_act",
        "num_hidden_layers", "norm_eps", "attn", "use_cache", "pad_token_id", "bos_token_id", "eos_token_id",
        "tie_word_embeddings", "initializer_range", "fuse_norm", "fuse_swiglu", "fuse_cross_entropy",
        "fuse_linear_cross_entropy", "use_l2warp", "vocab_size", "attnres_block_size",
        // transformers' PretrainedConfig bookkeeping
        "model_type", "architectures", "transformers_version", "torch_dtype", "dtype",
    ];

    static readonly string[] MixerTensors =
    [
        "q_proj.weight", "k_proj.weight", "v_proj.weight", "a_proj.weight", "b_proj.weight", "g_proj.weight", "o_proj.weight",
        "A_log", "dt_bias", "q_conv1d.weight", "k_conv1d.weight", "v_conv1d.weight", "o_norm.weight",
    ];

    const string Embedding = "model.embeddings.weight", Head = "lm_head.weight";

    public string Name => "gated_deltanet";

    public bool Recognises(JsonElement config, IReadOnlyCollection<string> tensorNames) =>
        config.ValueKind == JsonValueKind.Object &&
        (config.TryGetProperty("model_type", out var type) && type.ValueKind == JsonValueKind.String && type.GetString() == "gated_deltanet"
         || tensorNames.Contains(Embedding) && tensorNames.Contains("model.layers.0.attn.A_log") && tensorNames.Contains("model.layers.0.attn.b_proj.weight"));

    public ModelConfig ReadConfig(JsonElement json, string source)
    {
        var fields = new OfficialConfig(json, source, KnownFields);
        if (fields.String("model_type") is { } type && type != "gated_deltanet")
            throw new ConfigException($"{source}: 'model_type' is '{type}', this importer reads 'gated_deltanet'");
        if (json.TryGetProperty("attn", out var attn) && attn.ValueKind != JsonValueKind.Null)
            throw new ConfigException($"{source}: 'attn' {attn.GetRawText()}: hybrid attention layers in a Gated DeltaNet model are not supported yet");
        if (fields.OptionalInt("attnres_block_size") is int block)
            throw new ConfigException($"{source}: 'attnres_block_size' {block}: attention residuals are not supported");
        if (fields.String("hidden_act") is { } act && act != "swish")
            throw new ConfigException($"{source}: 'hidden_act' is '{act}': only 'swish' (SwiGLU) MLPs are supported");
        if (fields.String("attn_mode") is { } mode && mode is not ("chunk" or "fused_recurrent"))
            throw new ConfigException($"{source}: 'attn_mode' must be \"chunk\" or \"fused_recurrent\", got \"{mode}\"");
        // Kernel choices, training switches and token ids: checked for type, otherwise irrelevant to a loaded model.
        foreach (var name in new[] { "use_cache", "fuse_norm", "fuse_swiglu", "fuse_cross_entropy", "fuse_linear_cross_entropy", "use_l2warp" })
            fields.Bool(name);
        foreach (var name in new[] { "pad_token_id", "bos_token_id", "eos_token_id" }) fields.OptionalInt(name);
        fields.OptionalDouble("initializer_range");

        int dim = fields.OptionalInt("hidden_size") ?? 2048;
        int heads = fields.OptionalInt("num_heads") ?? 6;
        int valueHeads = fields.OptionalInt("num_v_heads") ?? heads;
        if (heads <= 0) throw new ConfigException($"{source}: 'num_heads' must be positive, got {heads}");
        if (valueHeads < heads || valueHeads % heads != 0)
            throw new ConfigException($"{source}: 'num_v_heads' ({valueHeads}) must be a multiple of 'num_heads' ({heads}) and not smaller");
        int headDim = fields.OptionalInt("head_dim") ?? 256;
        double expand = fields.OptionalDouble("expand_v") ?? 2.0;
        double valueDim = headDim * expand;
        if (!(valueDim >= 1) || Math.Abs(valueDim - Math.Round(valueDim)) > 1e-5 * valueDim)
            throw new ConfigException($"{source}: 'expand_v' {expand} times 'head_dim' {headDim} is not a whole value head size");
        return new ModelConfig
        {
            Arch = "gated_deltanet",
            Dim = dim,
            Layers = fields.OptionalInt("num_hidden_layers") ?? 21,
            Heads = heads,
            KeyHeadDim = headDim,
            ValueExpand = expand,
            ValueHeads = valueHeads,
            OutputGate = fields.Bool("use_gate") ?? true,
            ShortConv = fields.Bool("use_short_conv") ?? true,
            NegativeEigenvalues = fields.Bool("allow_neg_eigval") ?? false,
            DConv = fields.OptionalInt("conv_size") ?? 4,
            VocabSize = fields.OptionalInt("vocab_size") ?? 32000,
            NormEps = fields.OptionalDouble("norm_eps") ?? 1e-6,
            ContextLength = fields.OptionalInt("max_position_embeddings") ?? 2048,
            TiedEmbeddings = fields.Bool("tie_word_embeddings") ?? false,
            Norm = "rmsnorm",
            Mlp = "swiglu",
            FfnHidden = MlpWidth(fields, dim, source),
        }.Validate();
    }

    /// <summary>GatedMLP's width: intermediate_size, else 2/3 · hidden_ratio (default 4) · hidden_size rounded up to 256.</summary>
    static int MlpWidth(OfficialConfig fields, int dim, string source)
    {
        if (fields.OptionalInt("intermediate_size") is int width) return width;
        int ratio = fields.OptionalInt("hidden_ratio") ?? 4;
        if (ratio <= 0) throw new ConfigException($"{source}: 'hidden_ratio' must be positive, got {ratio}");
        long hidden = (long)(dim * (double)ratio * 2 / 3);
        long rounded = 256 * ((hidden + 255) / 256);
        if (rounded > ModelLimits.MlpWidth)
            throw new ConfigException($"{source}: the MLP width {rounded} (from 'hidden_ratio' {ratio}) is above the limit {ModelLimits.MlpWidth}");
        return (int)rounded;
    }

    public Dictionary<string, Tensor> MapWeights(IReadOnlyDictionary<string, Tensor> official, ModelConfig config)
    {
        var map = new Dictionary<string, Tensor>();
        void Take(string from, string to)
        {
            if (official.TryGetValue(from, out var t)) map[to] = t;
        }
        Take(Embedding, "embed.weight");
        Take("model.norm.weight", "norm.weight");
        if (!config.TiedEmbeddings) Take(Head, "head.weight");
        for (int i = 0; i < config.Layers; i++)
        {
            Take($"model.layers.{i}.attn_norm.weight", $"blocks.{i}.mixer_norm.weight");
            foreach (var name in MixerTensors) Take($"model.layers.{i}.attn.{name}", $"blocks.{i}.mixer.{name}");
            Take($"model.layers.{i}.mlp_norm.weight", $"blocks.{i}.mlp_norm.weight");
            Take($"model.layers.{i}.mlp.gate_proj.weight", $"blocks.{i}.mlp.w1.weight");
            Take($"model.layers.{i}.mlp.up_proj.weight", $"blocks.{i}.mlp.w3.weight");
            Take($"model.layers.{i}.mlp.down_proj.weight", $"blocks.{i}.mlp.w2.weight");
        }
        return map;
    }

    /// <summary>A tied head saved under its own name too must equal the embedding.</summary>
    public IEnumerable<string> NotParameters(IReadOnlyDictionary<string, Tensor> official, ModelConfig config) =>
        TiedHead.NotParameters(official, config, Embedding, Head, "tie_word_embeddings");

    public string OfficialName(string archlabName) => archlabName switch
    {
        "embed.weight" => Embedding,
        "norm.weight" => "model.norm.weight",
        "head.weight" => Head,
        _ => "model." + archlabName.Replace("blocks.", "layers.").Replace(".mixer_norm.", ".attn_norm.").Replace(".mixer.", ".attn.")
                                   .Replace(".mlp.w1.", ".mlp.gate_proj.").Replace(".mlp.w3.", ".mlp.up_proj.").Replace(".mlp.w2.", ".mlp.down_proj."),
    };
}
