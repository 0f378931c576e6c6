using System.Text.Json;
using ArchLab.Models;
using static TorchSharp.torch;

namespace ArchLab.Checkpoints.Importers;

/// <summary>
/// BlinkDL's RWKV-4 training checkpoint (RWKV-LM RWKV-v4neo train.py, converted to safetensors) with the raw training
/// values: emb, blocks.0.ln0, blocks.N.ln1/ln2, blocks.N.att.{time_decay, time_first, time_mix_k/v/r, key, value,
/// receptance, output}, blocks.N.ffn.{time_mix_k/r, key, receptance, value}, ln_out, head (untied).
/// <para>The ChatRWKV runner transforms these on load; here each transform has an equivalent:</para>
/// <list type="bullet">
/// <item>emb ← LN0(emb) (ln0 folded into the table): ln0 stays a real layer, the model's embedding norm (what RWKV-LM's
/// RWKV_RNN does at run time; identical per row).</item>
/// <item>time_* squeezed from [1, 1, C] to [C]: done here.</item>
/// <item>time_decay ← −exp(time_decay): done by the mixer at every call (its parameter is the raw value, as in training).</item>
/// <item>weights transposed for x @ W: not needed, projections compute x·Wᵀ like the nn.Linear the weights come from.</item>
/// <item>RESCALE_LAYER (halving weights every N layers in fp16): a numerical trick with no effect in fp32/fp64; ignored.</item>
/// <item>state init aa = bb = 0, pp = −1e30, xx = 0: <see cref="Mixers.Rwkv4TimeMixState"/>.</item>
/// </list>
/// A ChatRWKV-converted file (ln0 already folded in, decay already −exp) is not this layout and is rejected by the
/// missing blocks.0.ln0 tensors.
/// </summary>
public sealed class Rwkv4Importer : IModelImporter
{
    static readonly HashSet<string> ModelFields =
        ["n_embd", "n_layer", "dim_att", "dim_ffn", "vocab_size", "ctx_len", "layer_norm_eps", "model_type"];

    /// <summary>Training/runtime settings RWKV-LM saves next to the model; accepted and ignored (the ones that would
    /// change the network are checked to be off in <see cref="ReadConfig"/>).</summary>
    static readonly HashSet<string> TrainingFields =
    [
        "pre_ffn", "head_qk", "tiny_att_dim", "tiny_att_layer", "my_pos_emb", "dropout", "grad_cp", "lr_init", "accelerator",
        "my_pile_stage", "load_model", "RWKV_FLOAT_MODE", "RWKV_MY_TESTING", "chatrwkv_strategy", "RWKV_JIT_ON",
        "RWKV_CUDA_ON", "RESCALE_LAYER",
    ];

    /// <summary>Options that add layers or tensors this port does not have: each must be 0 (off).</summary>
    static readonly string[] MustBeOff = ["pre_ffn", "head_qk", "tiny_att_dim", "my_pos_emb"];

    public string Name => "rwkv4";

    public bool Recognises(JsonElement config, IReadOnlyCollection<string> tensorNames) =>
        config.ValueKind == JsonValueKind.Object && config.TryGetProperty("n_embd", out _)
        && tensorNames.Contains("emb.weight") && tensorNames.Contains("blocks.0.att.time_first");

    public ModelConfig ReadConfig(JsonElement json, string source)
    {
        var fields = new OfficialConfig(json, source, ModelFields.Concat(TrainingFields).ToHashSet());
        if (fields.String("model_type") is { } type && !type.StartsWith("RWKV-4", StringComparison.Ordinal))
            throw new ConfigException($"{source}: config field 'model_type' is '{type}': only RWKV-4 is supported");
        foreach (var name in MustBeOff)
            if (fields.OptionalDouble(name) is double v && v != 0)
                throw new ConfigException($"{source}: config field '{name}' = {v} is not supported (only 0)");

        int dim = fields.Int("n_embd");
        // RWKV-LM train.py: dim_att ≤ 0 means n_embd, dim_ffn ≤ 0 means 4·n_embd.
        int dimAtt = fields.OptionalInt("dim_att") is int a && a > 0 ? a : dim;
        int dimFfn = fields.OptionalInt("dim_ffn") is int f && f > 0 ? f : 4 * dim;
        return new ModelConfig
        {
            Arch = "rwkv4",
            Dim = dim,
            Layers = fields.Int("n_layer"),
            Heads = 1, // RWKV-4 has no heads; 1 keeps the shared head checks trivially satisfied
            VocabSize = fields.Int("vocab_size"),
            DimAtt = dimAtt,
            FfnHidden = dimFfn,
            NormEps = fields.OptionalDouble("layer_norm_eps") ?? 1e-5,
            ContextLength = fields.OptionalInt("ctx_len") ?? 1024,
            TiedEmbeddings = false,
            EmbeddingNorm = true,
        }.Validate();
    }

    /// <summary>(official name, ArchLab name) for every tensor of the layout.</summary>
    static IEnumerable<(string Official, string Ours)> Names(ModelConfig config)
    {
        foreach (var name in RwkvLayout.OuterNames()) yield return name;
        for (int i = 0; i < config.Layers; i++)
        {
            foreach (var p in new[] { "weight", "bias" })
            {
                yield return ($"blocks.{i}.ln1.{p}", $"blocks.{i}.mixer_norm.{p}");
                yield return ($"blocks.{i}.ln2.{p}", $"blocks.{i}.mlp_norm.{p}");
            }
            foreach (var p in new[] { "time_decay", "time_first", "time_mix_k", "time_mix_v", "time_mix_r" })
                yield return ($"blocks.{i}.att.{p}", $"blocks.{i}.mixer.{p}");
            foreach (var p in new[] { "key", "value", "receptance", "output" })
                yield return ($"blocks.{i}.att.{p}.weight", $"blocks.{i}.mixer.{p}.weight");
            foreach (var p in new[] { "time_mix_k", "time_mix_r" })
                yield return ($"blocks.{i}.ffn.{p}", $"blocks.{i}.mlp.{p}");
            foreach (var p in new[] { "key", "receptance", "value" })
                yield return ($"blocks.{i}.ffn.{p}.weight", $"blocks.{i}.mlp.{p}.weight");
        }
    }

    public Dictionary<string, Tensor> MapWeights(IReadOnlyDictionary<string, Tensor> official, ModelConfig config) =>
        RwkvLayout.MapWeights(official, Names(config), IsTimeMix, config.Dim);

    static bool IsTimeMix(string name) => name.Contains(".time_mix_", StringComparison.Ordinal);

    public string OfficialName(string archlabName) => RwkvLayout.OfficialName(archlabName);
}
