using System.Text.Json;
using ArchLab.Mixers;
using ArchLab.Models;
using static TorchSharp.torch;

namespace ArchLab.Checkpoints.Importers;

/// <summary>
/// Microsoft torchscale's RetNetDecoder (architecture/retnet.py) state dict with its RetNetConfig fields as config.json.
/// Tensors: embed_tokens, layers.N.retention.{q,k,v,g,out}_proj, layers.N.retention_layer_norm, layers.N.ffn.{fc1,gate,fc2},
/// layers.N.final_layer_norm, layer_norm, output_projection (all without biases; every norm is torchscale's RMSNorm), and
/// the derived buffers retnet_rel_pos.angle / .decay, which are checked against the values the mixer computes.
/// <c>layernorm_embedding</c> (an RMSNorm after the embedding) loads as the model's embedding norm (layernorm_embedding.weight);
/// <c>no_scale_embedding: false</c> (embeddings times √dim) is folded into the embedding table at load, exactly, when the head
/// is untied (a tied head would be scaled too, so that combination is rejected).
/// Settings this port does not implement (post-norm, DeepNorm, MoE, multiway, xPos, no output layer) are rejected naming the
/// field; dropout and the distributed-training fields only matter in training and are ignored.
/// </summary>
public sealed class RetNetImporter : IModelImporter
{
    static readonly HashSet<string> KnownFields =
    [
        "decoder_embed_dim", "decoder_value_embed_dim", "decoder_retention_heads", "decoder_ffn_embed_dim", "decoder_layers",
        "decoder_normalize_before", "activation_fn", "dropout", "drop_path_rate", "activation_dropout", "no_scale_embedding",
        "layernorm_embedding", "moe_freq", "moe_top1_expert", "moe_expert_count", "moe_gating_use_fp32",
        "moe_eval_capacity_token_fraction", "moe_second_expert_policy", "moe_normalize_gate_prob_before_dropping", "use_xmoe",
        "rel_pos_buckets", "max_rel_pos", "deepnorm", "subln", "multiway", "share_decoder_input_output_embed",
        "max_target_positions", "no_output_layer", "layernorm_eps", "chunkwise_recurrent", "recurrent_chunk_size", "vocab_size",
        "checkpoint_activations", "fsdp", "ddp_rank", "xpos_rel_pos", "xpos_scale_base", "encoder_normalize_before",
    ];

    const string AngleBuffer = "retnet_rel_pos.angle", DecayBuffer = "retnet_rel_pos.decay";

    public string Name => "retnet";

    public bool Recognises(JsonElement config, IReadOnlyCollection<string> tensorNames) =>
        config.ValueKind == JsonValueKind.Object && config.TryGetProperty("decoder_retention_heads", out _)
        && tensorNames.Contains("embed_tokens.weight");

    public ModelConfig ReadConfig(JsonElement json, string source)
    {
        var fields = new OfficialConfig(json, source, KnownFields);
        void Reject(string field, string why) => throw new ConfigException($"{source}: '{field}' {why} is not supported");
        if (fields.Bool("decoder_normalize_before") == false) Reject("decoder_normalize_before", "= false (post-norm blocks)");
        if (fields.Bool("deepnorm") == true) Reject("deepnorm", "= true (DeepNorm residual scaling)");
        if ((fields.OptionalInt("moe_freq") ?? 0) != 0) Reject("moe_freq", "≠ 0 (mixture-of-experts layers)");
        if (fields.Bool("use_xmoe") == true) Reject("use_xmoe", "= true (mixture of experts)");
        if (fields.Bool("multiway") == true) Reject("multiway", "= true (multiway networks)");
        if (fields.Bool("xpos_rel_pos") == true) Reject("xpos_rel_pos", "= true (xPos relative positions)");
        if (fields.Bool("no_output_layer") == true) Reject("no_output_layer", "= true (a decoder without output projection)");

        string activation = fields.String("activation_fn") ?? "gelu"; // RetNetConfig's default
        if (!GluMlp.Activations.Contains(activation))
            throw new ConfigException($"{source}: 'activation_fn' = '{activation}' is not supported (known: {string.Join(", ", GluMlp.Activations)})");
        bool tied = fields.Bool("share_decoder_input_output_embed") ?? false;
        if (fields.Bool("no_scale_embedding") == false && tied)
            Reject("no_scale_embedding", "= false with 'share_decoder_input_output_embed' = true (the √dim embedding scale cannot be folded into a tied table)");
        int vocab = fields.Int("vocab_size");
        int? chunk = fields.OptionalInt("recurrent_chunk_size");

        // Missing fields take RetNetConfig's defaults.
        return new ModelConfig
        {
            Arch = "retnet",
            Dim = fields.OptionalInt("decoder_embed_dim") ?? 768,
            ValueDim = fields.OptionalInt("decoder_value_embed_dim") ?? 1280,
            Heads = fields.OptionalInt("decoder_retention_heads") ?? 3,
            FfnHidden = fields.OptionalInt("decoder_ffn_embed_dim") ?? 1280,
            Layers = fields.OptionalInt("decoder_layers") ?? 12,
            VocabSize = vocab,
            NormEps = fields.OptionalDouble("layernorm_eps") ?? 1e-6,
            ContextLength = fields.OptionalInt("max_target_positions") ?? 1024,
            TiedEmbeddings = tied,
            Norm = "rmsnorm",
            Mlp = "glu",
            GluActivation = activation,
            RetentionChunkSize = chunk ?? 512,
            RetentionChunkwise = fields.Bool("chunkwise_recurrent") == true ? true : null,
            EmbeddingNorm = fields.Bool("layernorm_embedding") == true,
        }.Validate();
    }

    /// <summary>torchscale's forward_embedding computes embed_scale · embed_tokens(ids) with embed_scale = √dim unless
    /// no_scale_embedding (default true in RetNetConfig); with an untied head the scale folds into the table exactly (the same
    /// float32 product per element), so the model needs no scale of its own.</summary>
    public Dictionary<string, Tensor> MapWeights(IReadOnlyDictionary<string, Tensor> official, ModelConfig config, JsonElement officialConfig)
    {
        var map = MapWeights(official, config);
        bool scaled = officialConfig.TryGetProperty("no_scale_embedding", out var v) && v.ValueKind == JsonValueKind.False;
        if (scaled && map.TryGetValue("embed.weight", out var table) && table.is_floating_point())
            map["embed.weight"] = table * Math.Sqrt(config.Dim);
        return map;
    }

    public Dictionary<string, Tensor> MapWeights(IReadOnlyDictionary<string, Tensor> official, ModelConfig config)
    {
        var map = new Dictionary<string, Tensor>();
        void Take(string from, string to)
        {
            if (official.TryGetValue(from, out var t)) map[to] = t;
        }
        Take("embed_tokens.weight", "embed.weight");
        Take("layer_norm.weight", "norm.weight");
        Take("layernorm_embedding.weight", "embed_norm.weight");
        if (!config.TiedEmbeddings) Take("output_projection.weight", "head.weight");
        else if (official.TryGetValue("output_projection.weight", out var head) && official.TryGetValue("embed_tokens.weight", out var embed)
                 && !head.to(embed.dtype).allclose(embed, 0, 0))
            throw new CheckpointException("tensor 'output_projection.weight' differs from 'embed_tokens.weight' although share_decoder_input_output_embed is set");
        for (int i = 0; i < config.Layers; i++)
        {
            foreach (var p in new[] { "q_proj", "k_proj", "v_proj", "g_proj", "out_proj" })
                Take($"layers.{i}.retention.{p}.weight", $"blocks.{i}.mixer.{p}.weight");
            foreach (var p in new[] { "fc1", "gate", "fc2" })
                Take($"layers.{i}.ffn.{p}.weight", $"blocks.{i}.mlp.{p}.weight");
            Take($"layers.{i}.retention_layer_norm.weight", $"blocks.{i}.mixer_norm.weight");
            Take($"layers.{i}.final_layer_norm.weight", $"blocks.{i}.mlp_norm.weight");
        }
        CheckBuffers(official, config);
        return map;
    }

    /// <summary>The stored angle/decay buffers must be the ones <see cref="Retention.Tables"/> computes (else the checkpoint was
    /// made with other position or decay settings this port does not reproduce).</summary>
    static void CheckBuffers(IReadOnlyDictionary<string, Tensor> official, ModelConfig config)
    {
        var (logDecay, angle) = Retention.Tables(config.Heads, config.Dim / config.Heads);
        foreach (var (name, expected) in new[] { (DecayBuffer, logDecay), (AngleBuffer, angle) })
        {
            if (!official.TryGetValue(name, out var stored)) continue; // derived: optional
            if (stored.NumberOfElements != expected.Length)
                throw new CheckpointException($"tensor '{name}' has shape [{string.Join(", ", stored.shape)}], the config implies [{expected.Length}]");
            var values = stored.to(ScalarType.Float32).data<float>().ToArray();
            for (int i = 0; i < values.Length; i++)
                if (Math.Abs(values[i] - expected[i]) > 1e-6 * Math.Max(1, Math.Abs(expected[i])))
                    throw new CheckpointException($"tensor '{name}'[{i}] = {values[i]}, but torchscale's formula gives {expected[i]}");
        }
    }

    public IEnumerable<string> NotParameters(IReadOnlyDictionary<string, Tensor> official, ModelConfig config) =>
        official.Keys.Where(name => name is AngleBuffer or DecayBuffer || (config.TiedEmbeddings && name == "output_projection.weight"));

    public string OfficialName(string archlabName) => archlabName switch
    {
        "embed.weight" => "embed_tokens.weight",
        "head.weight" => "output_projection.weight",
        "norm.weight" => "layer_norm.weight",
        "embed_norm.weight" => "layernorm_embedding.weight",
        _ => archlabName.Replace("blocks.", "layers.").Replace(".mixer_norm.", ".retention_layer_norm.")
                        .Replace(".mlp_norm.", ".final_layer_norm.").Replace(".mixer.", ".retention.").Replace(".mlp.", ".ffn."),
    };
}
