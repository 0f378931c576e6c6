using System.Text.Json;
using ArchLab.Models;
using static TorchSharp.torch;

namespace ArchLab.Checkpoints.Importers;

/// <summary>
/// state-spaces/mamba's layout (<c>MambaLMHeadModel</c>): a <c>MambaConfig</c> config.json (d_model, n_layer, vocab_size,
/// ssm_cfg{layer, d_state, d_conv, expand, dt_rank, conv_bias, bias, ...}, pad_vocab_size_multiple, tie_embeddings, ...)
/// and tensors backbone.embedding, backbone.layers.N.norm, backbone.layers.N.mixer.{in_proj, conv1d, x_proj, dt_proj,
/// out_proj, A_log, D}, backbone.norm_f, lm_head. The mixer's tensors load unchanged into <see cref="Mixers.Mamba"/>;
/// the model's vocabulary is the padded one (vocab_size rounded up to pad_vocab_size_multiple), as the official model's is.
/// <c>d_intermediate</c> &gt; 0 (a GatedMLP after each mixer, behind norm2) loads as a SwiGLU MLP: GatedMLP's hidden width is
/// d_intermediate rounded up to 128, its fc1 holds [value; gate] rows (y · silu(gate)), so the first half is w3 and the second
/// w1, and fc2 is w2.
/// <c>attn_layer_idx</c> (the official attention hybrids) makes those layers mamba_ssm's MHA, read from <c>attn_cfg</c>
/// (num_heads, num_heads_kv, head_dim, rotary_emb_dim/base/interleaved, qkv_proj_bias, out_proj_bias, causal): its in_proj
/// holds [q; k; v] rows (k and v: all key heads, then all value heads) and loads as wq, wk, wv; flash_attn's rotary is the
/// NeoX layout unless interleaved, on the first rotary_emb_dim dimensions; rotary_emb_dim 0 means no positions at all.
/// Not supported (rejected with a <see cref="ConfigException"/> naming the field): MHA's d_conv and mlp_dim, a
/// softmax_scale other than 1/√head_dim, causal false, LayerNorm instead of RMSNorm (rms_norm false), Mamba3 layers
/// (Mamba2 layers are <see cref="Mamba2Importer"/>'s).
/// </summary>
public sealed class MambaImporter : IModelImporter
{
    /// <summary>The keyword arguments of Mamba.__init__ a config may set, plus create_block's "layer".</summary>
    static readonly HashSet<string> SsmFields =
    [
        "layer", "d_state", "d_conv", "expand", "dt_rank", "dt_min", "dt_max", "dt_init", "dt_scale", "dt_init_floor",
        "conv_bias", "bias", "use_fast_path",
    ];

    /// <summary>The keyword arguments of MHA.__init__ an attn_cfg may set.</summary>
    static readonly HashSet<string> AttentionFields =
    [
        "num_heads", "num_heads_kv", "head_dim", "mlp_dim", "qkv_proj_bias", "out_proj_bias", "softmax_scale", "causal", "d_conv",
        "rotary_emb_dim", "rotary_emb_base", "rotary_emb_interleaved",
    ];

    static readonly string[] MixerTensors =
    [
        "in_proj.weight", "in_proj.bias", "conv1d.weight", "conv1d.bias", "x_proj.weight", "dt_proj.weight", "dt_proj.bias",
        "out_proj.weight", "out_proj.bias", "A_log", "D",
    ];

    const string Embedding = "backbone.embedding.weight", Head = "lm_head.weight";

    public string Name => "mamba";

    /// <summary>A MambaLMHeadModel layout, except Mamba2 layers (<see cref="Mamba2Importer"/> reads those); other layer kinds
    /// are recognised so that <see cref="ReadConfig"/> can refuse them by name.</summary>
    public bool Recognises(JsonElement config, IReadOnlyCollection<string> tensorNames) =>
        config.ValueKind == JsonValueKind.Object && config.TryGetProperty("d_model", out _) &&
        config.TryGetProperty("n_layer", out _) && tensorNames.Contains(Embedding) && !Mamba2Importer.IsMamba2(config);

    public ModelConfig ReadConfig(JsonElement json, string source)
    {
        var fields = new OfficialConfig(json, source, MambaLMHeadConfig.KnownFields);
        int mlpWidth = MambaLMHeadConfig.MlpWidth(fields, source);
        int layers = fields.Int("n_layer");
        var attentionLayers = AttentionLayers(json, source, layers);
        var attnCfg = MambaLMHeadConfig.AttentionConfig(json, source);
        if (fields.Bool("rms_norm") == false)
            throw new ConfigException($"{source}: 'rms_norm': false (LayerNorm blocks) is not supported; ArchLab's Mamba uses RMSNorm");
        // residual_in_fp32 and fused_add_norm only change kernels and rounding, not the function.
        fields.Bool("residual_in_fp32");
        fields.Bool("fused_add_norm");

        var ssm = SsmConfig(json, source);
        string layer = ssm.String("layer") ?? "Mamba1";
        if (layer != "Mamba1")
            throw new ConfigException($"{source}: ssm_cfg 'layer' is '{layer}': only Mamba1 and Mamba2 layers are supported");
        // Initialisation-only and kernel-choice fields: checked for type, otherwise irrelevant to a loaded model.
        foreach (var name in new[] { "dt_min", "dt_max", "dt_scale", "dt_init_floor" }) ssm.OptionalDouble(name);
        ssm.Bool("use_fast_path");
        if (ssm.String("dt_init") is { } dtInit && dtInit is not ("random" or "constant"))
            throw new ConfigException($"{source}: ssm_cfg 'dt_init' must be \"random\" or \"constant\", got \"{dtInit}\"");

        int dim = fields.Int("d_model");
        int vocab = MambaLMHeadConfig.PaddedVocab(fields, source);
        var config = new ModelConfig
        {
            Arch = "mamba",
            Dim = dim,
            Layers = layers,
            Heads = 1, // unused by Mamba layers
            VocabSize = vocab,
            NormEps = 1e-5, // MixerModel's norm_epsilon, which MambaConfig does not expose
            ContextLength = 2048,
            TiedEmbeddings = fields.Bool("tie_embeddings") ?? true,
            DState = ssm.OptionalInt("d_state") ?? 16,
            DConv = ssm.OptionalInt("d_conv") ?? 4,
            Expand = ssm.OptionalDouble("expand") ?? 2,
            DtRank = ssm.String("dt_rank") == "auto" ? (dim + 15) / 16 : ssm.OptionalInt("dt_rank") ?? (dim + 15) / 16,
            ConvBias = ssm.Bool("conv_bias") ?? true,
            ProjBias = ssm.Bool("bias") ?? false,
            Mlp = mlpWidth > 0 ? "swiglu" : null,
            FfnHidden = MambaLMHeadConfig.MlpHidden(mlpWidth),
        };
        if (attentionLayers.Count > 0)
            config = WithAttention(config, attnCfg.ValueKind == JsonValueKind.Object ? attnCfg : JsonDocument.Parse("{}").RootElement, source) with
            {
                LayerPattern = Enumerable.Range(0, layers).Select(i => attentionLayers.Contains(i) ? Mixers.Attention.Spec.Name : "mamba").ToArray(),
                Mlp = mlpWidth > 0 ? "swiglu" : "none", // create_block gives MHA layers the same (or no) MLP as the others
            };
        return config.Validate();
    }

    /// <summary>The layer indices of attn_layer_idx (distinct, each below n_layer).</summary>
    static HashSet<int> AttentionLayers(JsonElement json, string source, int layers)
    {
        var result = new HashSet<int>();
        if (!json.TryGetProperty("attn_layer_idx", out var attn) || attn.ValueKind == JsonValueKind.Null) return result;
        if (attn.ValueKind != JsonValueKind.Array)
            throw new ConfigException($"{source}: config field 'attn_layer_idx' must be a list of layer indices, got {attn.GetRawText()}");
        foreach (var item in attn.EnumerateArray())
            if (!item.TryGetInt32(out int i) || i < 0 || i >= layers || !result.Add(i))
                throw new ConfigException($"{source}: 'attn_layer_idx' entry {item.GetRawText()} must be a distinct layer index below n_layer ({layers})");
        return result;
    }

    /// <summary>The MHA options of attn_cfg on the config (MHA's own defaults where a field is absent).</summary>
    static ModelConfig WithAttention(ModelConfig config, JsonElement attnCfg, string source)
    {
        var attn = new OfficialConfig(attnCfg, $"{source} (attn_cfg)", AttentionFields);
        if (attn.Bool("causal") != true)
            throw new ConfigException($"{source}: attn_cfg 'causal' must be true for a language model (MHA's default is false: bidirectional attention)");
        if ((attn.OptionalInt("d_conv") ?? 0) != 0)
            throw new ConfigException($"{source}: attn_cfg 'd_conv' {attn.OptionalInt("d_conv")}: a convolution before MHA's attention is not supported");
        if ((attn.OptionalInt("mlp_dim") ?? 0) != 0)
            throw new ConfigException($"{source}: attn_cfg 'mlp_dim' {attn.OptionalInt("mlp_dim")}: MHA's parallel MLP is not supported");
        int heads = attn.Int("num_heads"), kvHeads = attn.OptionalInt("num_heads_kv") ?? heads;
        if (heads <= 0 || kvHeads <= 0 || heads % kvHeads != 0)
            throw new ConfigException($"{source}: attn_cfg 'num_heads' ({heads}) must be a positive multiple of 'num_heads_kv' ({kvHeads})");
        int? headDim = attn.OptionalInt("head_dim");
        if (headDim is null && config.Dim % heads != 0)
            throw new ConfigException($"{source}: attn_cfg without 'head_dim' needs d_model ({config.Dim}) divisible by 'num_heads' ({heads})");
        int width = headDim ?? config.Dim / heads;
        if (attn.OptionalDouble("softmax_scale") is double scale && Math.Abs(scale - 1 / Math.Sqrt(width)) > 1e-12 / Math.Sqrt(width))
            throw new ConfigException($"{source}: attn_cfg 'softmax_scale' {scale}: only the default 1/√head_dim is supported");
        int rotary = attn.OptionalInt("rotary_emb_dim") ?? 0;
        return config with
        {
            Heads = heads,
            KvHeads = kvHeads == heads ? null : kvHeads,
            AttentionHeadDim = headDim is int hd && hd * heads != config.Dim ? hd : null,
            QkvBias = attn.Bool("qkv_proj_bias") ?? true,
            OutBias = attn.Bool("out_proj_bias") ?? true,
            NoRope = rotary == 0,
            RotaryDim = rotary > 0 && rotary != width ? rotary : null,
            RopeStyle = rotary > 0 && attn.Bool("rotary_emb_interleaved") != true ? "neox" : null,
            RopeTheta = attn.OptionalDouble("rotary_emb_base") ?? 10000.0,
        };
    }

    static OfficialConfig SsmConfig(JsonElement json, string source)
    {
        var ssm = json.TryGetProperty("ssm_cfg", out var v) && v.ValueKind != JsonValueKind.Null ? v : JsonDocument.Parse("{}").RootElement;
        if (ssm.ValueKind != JsonValueKind.Object)
            throw new ConfigException($"{source}: config field 'ssm_cfg' must be an object, got {ssm.GetRawText()}");
        return new OfficialConfig(ssm, $"{source} (ssm_cfg)", SsmFields);
    }

    public Dictionary<string, Tensor> MapWeights(IReadOnlyDictionary<string, Tensor> official, ModelConfig config)
    {
        var map = new Dictionary<string, Tensor>();
        void Take(string from, string to)
        {
            if (official.TryGetValue(from, out var t)) map[to] = t;
        }
        Take(Embedding, "embed.weight");
        Take("backbone.norm_f.weight", "norm.weight");
        if (!config.TiedEmbeddings) Take(Head, "head.weight");
        for (int i = 0; i < config.Layers; i++)
        {
            Take($"backbone.layers.{i}.norm.weight", $"blocks.{i}.mixer_norm.weight");
            if (config.MixerOf(i) == Mixers.Attention.Spec.Name) MapAttention(official, config, i, map);
            else foreach (var name in MixerTensors) Take($"backbone.layers.{i}.mixer.{name}", $"blocks.{i}.mixer.{name}");
            Take($"backbone.layers.{i}.norm2.weight", $"blocks.{i}.mlp_norm.weight");
            Take($"backbone.layers.{i}.mlp.fc2.weight", $"blocks.{i}.mlp.w2.weight");
            if (official.TryGetValue($"backbone.layers.{i}.mlp.fc1.weight", out var fc1))
            {
                long hidden = config.FfnHidden ?? 0;
                if (fc1.dim() == 2 && fc1.shape[0] == 2 * hidden)
                {
                    map[$"blocks.{i}.mlp.w3.weight"] = fc1.narrow(0, 0, hidden);      // y
                    map[$"blocks.{i}.mlp.w1.weight"] = fc1.narrow(0, hidden, hidden); // gate, through silu
                }
                else map[$"blocks.{i}.mlp.w1.weight"] = fc1; // the loader reports the file's shape
            }
        }
        return map;
    }

    /// <summary>MHA's in_proj [q; k; v] (weight and bias) as wq, wk, wv; out_proj as wo.</summary>
    static void MapAttention(IReadOnlyDictionary<string, Tensor> official, ModelConfig config, int layer, Dictionary<string, Tensor> map)
    {
        string from = $"backbone.layers.{layer}.mixer.", to = $"blocks.{layer}.mixer.";
        long q = (long)config.Heads * config.Attention.HeadDim, kv = (long)config.Attention.KvHeadCount * config.Attention.HeadDim;
        foreach (string kind in new[] { "weight", "bias" })
        {
            if (!official.TryGetValue($"{from}in_proj.{kind}", out var inProj)) continue;
            if (inProj.dim() == 0 || inProj.shape[0] != q + 2 * kv)
            {
                map[$"{to}wq.{kind}"] = inProj; // the loader reports the file's shape
                continue;
            }
            map[$"{to}wq.{kind}"] = inProj.narrow(0, 0, q);
            map[$"{to}wk.{kind}"] = inProj.narrow(0, q, kv);
            map[$"{to}wv.{kind}"] = inProj.narrow(0, q + kv, kv);
        }
        foreach (string kind in new[] { "weight", "bias" })
            if (official.TryGetValue($"{from}out_proj.{kind}", out var outProj)) map[$"{to}wo.{kind}"] = outProj;
    }

    /// <summary>A tied head saved under its own name too (torch.save of the state dict does that) must equal the embedding.</summary>
    public IEnumerable<string> NotParameters(IReadOnlyDictionary<string, Tensor> official, ModelConfig config) =>
        TiedHead.NotParameters(official, config, Embedding, Head, "tie_embeddings");

    public string OfficialName(string archlabName) => archlabName switch
    {
        "embed.weight" => Embedding,
        "norm.weight" => "backbone.norm_f.weight",
        "head.weight" => Head,
        _ => "backbone." + archlabName.Replace("blocks.", "layers.")
                                      .Replace(".mixer.wq.", ".mixer.in_proj.").Replace(".mixer.wk.", ".mixer.in_proj.").Replace(".mixer.wv.", ".mixer.in_proj.")
                                      .Replace(".mixer.wo.", ".mixer.out_proj.").Replace(".mixer_norm.", ".norm.").Replace(".mlp_norm.", ".norm2.")
                                      .Replace(".mlp.w1.", ".mlp.fc1.").Replace(".mlp.w3.", ".mlp.fc1.").Replace(".mlp.w2.", ".mlp.fc2."),
    };
}
