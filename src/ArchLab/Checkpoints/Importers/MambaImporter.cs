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
/// Not supported (rejected with a <see cref="ConfigException"/>): attention layers (attn_layer_idx non-empty: mamba_ssm's MHA
/// has biases and its own rotary layout), LayerNorm instead of RMSNorm (rms_norm false), Mamba2/Mamba3 layers.
/// </summary>
public sealed class MambaImporter : IModelImporter
{
    static readonly HashSet<string> KnownFields =
    [
        "d_model", "d_intermediate", "n_layer", "vocab_size", "ssm_cfg", "attn_layer_idx", "attn_cfg", "rms_norm",
        "residual_in_fp32", "fused_add_norm", "pad_vocab_size_multiple", "tie_embeddings",
    ];

    /// <summary>The keyword arguments of Mamba.__init__ a config may set, plus create_block's "layer".</summary>
    static readonly HashSet<string> SsmFields =
    [
        "layer", "d_state", "d_conv", "expand", "dt_rank", "dt_min", "dt_max", "dt_init", "dt_scale", "dt_init_floor",
        "conv_bias", "bias", "use_fast_path",
    ];

    static readonly string[] MixerTensors =
    [
        "in_proj.weight", "in_proj.bias", "conv1d.weight", "conv1d.bias", "x_proj.weight", "dt_proj.weight", "dt_proj.bias",
        "out_proj.weight", "out_proj.bias", "A_log", "D",
    ];

    const string Embedding = "backbone.embedding.weight", Head = "lm_head.weight";

    /// <summary>GatedMLP's multiple_of: create_block leaves it at its default.</summary>
    const int GatedMlpMultiple = 128;

    public string Name => "mamba";

    /// <summary>A MambaLMHeadModel layout, except Mamba2 layers (<see cref="Mamba2Importer"/> reads those); other layer kinds
    /// are recognised so that <see cref="ReadConfig"/> can refuse them by name.</summary>
    public bool Recognises(JsonElement config, IReadOnlyCollection<string> tensorNames) =>
        config.ValueKind == JsonValueKind.Object && config.TryGetProperty("d_model", out _) &&
        config.TryGetProperty("n_layer", out _) && tensorNames.Contains(Embedding) && !Mamba2Importer.IsMamba2(config);

    public ModelConfig ReadConfig(JsonElement json, string source)
    {
        var fields = new OfficialConfig(json, source, KnownFields);
        int mlpWidth = fields.OptionalInt("d_intermediate") ?? 0;
        if (mlpWidth < 0) throw new ConfigException($"{source}: 'd_intermediate' must be 0 (no MLP) or positive, got {mlpWidth}");
        if (mlpWidth > ModelLimits.MlpWidth) throw new ConfigException($"{source}: 'd_intermediate' = {mlpWidth} is above the limit {ModelLimits.MlpWidth}");
        if (json.TryGetProperty("attn_layer_idx", out var attn) && attn.ValueKind != JsonValueKind.Null &&
            (attn.ValueKind != JsonValueKind.Array || attn.GetArrayLength() > 0))
            throw new ConfigException($"{source}: 'attn_layer_idx' {attn.GetRawText()}: attention layers in a Mamba model are not supported yet");
        if (json.TryGetProperty("attn_cfg", out var attnCfg) && attnCfg.ValueKind is not (JsonValueKind.Object or JsonValueKind.Null))
            throw new ConfigException($"{source}: config field 'attn_cfg' must be an object, got {attnCfg.GetRawText()}");
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
        int vocab = fields.Int("vocab_size");
        int multiple = fields.OptionalInt("pad_vocab_size_multiple") ?? 8;
        if (multiple <= 0) throw new ConfigException($"{source}: 'pad_vocab_size_multiple' must be positive, got {multiple}");
        return new ModelConfig
        {
            Arch = "mamba",
            Dim = dim,
            Layers = fields.Int("n_layer"),
            Heads = 1, // unused by Mamba layers
            VocabSize = (vocab + multiple - 1) / multiple * multiple, // MambaLMHeadModel pads the table and the logits
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
            FfnHidden = mlpWidth > 0 ? (mlpWidth + GatedMlpMultiple - 1) / GatedMlpMultiple * GatedMlpMultiple : null,
        }.Validate();
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
            foreach (var name in MixerTensors) Take($"backbone.layers.{i}.mixer.{name}", $"blocks.{i}.mixer.{name}");
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

    /// <summary>A tied head saved under its own name too (torch.save of the state dict does that) must equal the embedding.</summary>
    public IEnumerable<string> NotParameters(IReadOnlyDictionary<string, Tensor> official, ModelConfig config)
    {
        if (!config.TiedEmbeddings || !official.TryGetValue(Head, out var head)) return [];
        if (official.TryGetValue(Embedding, out var embedding) && !Same(head, embedding))
            throw new CheckpointException($"'{Head}' differs from '{Embedding}' although 'tie_embeddings' is true");
        return [Head];
    }

    static bool Same(Tensor a, Tensor b)
    {
        using var scope = NewDisposeScope();
        return a.shape.SequenceEqual(b.shape) && a.eq(b).all().item<bool>();
    }

    public string OfficialName(string archlabName) => archlabName switch
    {
        "embed.weight" => Embedding,
        "norm.weight" => "backbone.norm_f.weight",
        "head.weight" => Head,
        _ => "backbone." + archlabName.Replace("blocks.", "layers.").Replace(".mixer_norm.", ".norm.").Replace(".mlp_norm.", ".norm2.")
                                      .Replace(".mlp.w1.", ".mlp.fc1.").Replace(".mlp.w3.", ".mlp.fc1.").Replace(".mlp.w2.", ".mlp.fc2."),
    };
}
