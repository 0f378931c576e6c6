using System.Text.Json;
using ArchLab.Models;
using static TorchSharp.torch;

namespace ArchLab.Checkpoints.Importers;

/// <summary>
/// Meta's LLaMA layout (llama/model.py, consolidated checkpoints converted to safetensors): params.json-style config
/// (dim, n_layers, n_heads, n_kv_heads, vocab_size, multiple_of, ffn_dim_multiplier, norm_eps, rope_theta, max_seq_len)
/// and tensors tok_embeddings, layers.N.attention.wq/wk/wv/wo, layers.N.feed_forward.w1/w2/w3, attention_norm, ffn_norm,
/// norm, output. Its rotary embedding rotates interleaved pairs, exactly as <see cref="Mixers.RotaryEmbedding"/> does, so
/// the weights need no permutation.
/// </summary>
public sealed class LlamaImporter : IModelImporter
{
    static readonly HashSet<string> KnownFields =
    [
        "dim", "n_layers", "n_heads", "n_kv_heads", "vocab_size", "multiple_of", "ffn_dim_multiplier", "norm_eps",
        "rope_theta", "max_batch_size", "max_seq_len", "use_scaled_rope",
    ];

    public string Name => "llama";

    public bool Recognises(JsonElement config, IReadOnlyCollection<string> tensorNames) =>
        config.TryGetProperty("n_layers", out _) && tensorNames.Contains("tok_embeddings.weight");

    public ModelConfig ReadConfig(JsonElement json, string source)
    {
        var fields = new OfficialConfig(json, source, KnownFields);
        if (fields.Bool("use_scaled_rope") == true)
            throw new ConfigException($"{source}: 'use_scaled_rope' (LLaMA 3.1 rope scaling) is not supported");
        int dim = fields.Int("dim");
        int multipleOf = fields.OptionalInt("multiple_of") ?? 256;
        if (multipleOf <= 0) throw new ConfigException($"{source}: 'multiple_of' must be positive, got {multipleOf}");
        if (dim <= 0 || dim > ModelLimits.Width) throw new ConfigException($"{source}: 'dim' must be in 1..{ModelLimits.Width}, got {dim}");
        return new ModelConfig
        {
            Arch = "transformer",
            Dim = dim,
            Layers = fields.Int("n_layers"),
            Heads = fields.Int("n_heads"),
            KvHeads = fields.OptionalInt("n_kv_heads"),
            VocabSize = fields.Int("vocab_size"),
            FfnHidden = ModelConfig.LlamaFfnHidden(dim, multipleOf, fields.OptionalDouble("ffn_dim_multiplier")),
            NormEps = fields.OptionalDouble("norm_eps") ?? 1e-5,
            RopeTheta = fields.OptionalDouble("rope_theta") ?? 10000.0,
            ContextLength = fields.OptionalInt("max_seq_len") ?? 2048,
            TiedEmbeddings = false,
        }.Validate();
    }

    public Dictionary<string, Tensor> MapWeights(IReadOnlyDictionary<string, Tensor> official, ModelConfig config)
    {
        var map = new Dictionary<string, Tensor>();
        void Take(string from, string to)
        {
            if (official.TryGetValue(from, out var t)) map[to] = t;
        }
        Take("tok_embeddings.weight", "embed.weight");
        Take("norm.weight", "norm.weight");
        Take("output.weight", "head.weight");
        for (int i = 0; i < config.Layers; i++)
        {
            foreach (var w in new[] { "wq", "wk", "wv", "wo" }) Take($"layers.{i}.attention.{w}.weight", $"blocks.{i}.mixer.{w}.weight");
            foreach (var w in new[] { "w1", "w2", "w3" }) Take($"layers.{i}.feed_forward.{w}.weight", $"blocks.{i}.mlp.{w}.weight");
            Take($"layers.{i}.attention_norm.weight", $"blocks.{i}.mixer_norm.weight");
            Take($"layers.{i}.ffn_norm.weight", $"blocks.{i}.mlp_norm.weight");
        }
        return map;
    }

    public string OfficialName(string archlabName) => archlabName switch
    {
        "embed.weight" => "tok_embeddings.weight",
        "head.weight" => "output.weight",
        _ => archlabName.Replace("blocks.", "layers.").Replace(".mixer_norm.", ".attention_norm.").Replace(".mlp_norm.", ".ffn_norm.")
                        .Replace(".mixer.", ".attention.").Replace(".mlp.", ".feed_forward."),
    };
}
