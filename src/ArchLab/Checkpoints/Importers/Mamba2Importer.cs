using System.Text.Json;
using ArchLab.Models;
using static TorchSharp.torch;

namespace ArchLab.Checkpoints.Importers;

/// <summary>
/// state-spaces/mamba's <c>MambaLMHeadModel</c> with Mamba-2 layers (<c>ssm_cfg: {"layer": "Mamba2", ...}</c>): the
/// <c>MambaConfig</c> fields of <see cref="MambaImporter"/>, and per layer backbone.layers.N.mixer.{in_proj, conv1d,
/// dt_bias, A_log, D, norm, out_proj}, which load unchanged into <see cref="Mixers.Mamba2"/>. Supported Mamba2 options:
/// d_state, d_conv, expand, headdim, ngroups, chunk_size, norm_before_gate, bias, conv_bias; the initialisation-only
/// (A_init_range, dt_min, dt_max, dt_init_floor, conv_init) and kernel-choice (use_mem_eff_path, sequence_parallel) ones
/// are read and ignored. Model options: untied heads (tie_embeddings false), vocabulary padding (pad_vocab_size_multiple),
/// d_intermediate &gt; 0 (a GatedMLP after each mixer, loaded as SwiGLU exactly as <see cref="MambaImporter"/> does).
/// Refused with a <see cref="ConfigException"/> naming the option: D_has_hdim true, rmsnorm false, d_ssm smaller than
/// the inner width (a gated MLP inside the mixer), dt_limit, attention layers (attn_layer_idx), rms_norm false.
/// </summary>
public sealed class Mamba2Importer : IModelImporter
{
    /// <summary>The keyword arguments of Mamba2.__init__ a config may set, plus create_block's "layer".</summary>
    static readonly HashSet<string> SsmFields =
    [
        "layer", "d_state", "d_conv", "conv_init", "expand", "headdim", "d_ssm", "ngroups", "A_init_range", "D_has_hdim",
        "rmsnorm", "norm_before_gate", "dt_min", "dt_max", "dt_init_floor", "dt_limit", "bias", "conv_bias", "chunk_size",
        "use_mem_eff_path", "sequence_parallel",
    ];

    /// <summary>Mamba-2's tensors that a Mamba (v1) layer does not have; the rest map as <see cref="MambaImporter"/> maps them.</summary>
    static readonly string[] Mamba2OnlyTensors = ["dt_bias", "norm.weight"];

    const string Embedding = "backbone.embedding.weight";

    /// <summary>The shared MambaLMHeadModel layout: embedding, norms, head, MLPs and the tensors both mixers name alike.</summary>
    static readonly MambaImporter Backbone = new();

    public string Name => "mamba2";

    public bool Recognises(JsonElement config, IReadOnlyCollection<string> tensorNames) =>
        config.ValueKind == JsonValueKind.Object && config.TryGetProperty("d_model", out _) && config.TryGetProperty("n_layer", out _) &&
        IsMamba2(config) && tensorNames.Contains(Embedding);

    /// <summary>Whether a MambaConfig's ssm_cfg asks for Mamba2 layers.</summary>
    public static bool IsMamba2(JsonElement config) =>
        config.ValueKind == JsonValueKind.Object && config.TryGetProperty("ssm_cfg", out var ssm) && ssm.ValueKind == JsonValueKind.Object &&
        ssm.TryGetProperty("layer", out var layer) && layer.ValueKind == JsonValueKind.String && layer.GetString() == "Mamba2";

    public ModelConfig ReadConfig(JsonElement json, string source)
    {
        var fields = new OfficialConfig(json, source, MambaLMHeadConfig.KnownFields);
        int mlpWidth = MambaLMHeadConfig.MlpWidth(fields, source);
        if (json.TryGetProperty("attn_layer_idx", out var attn) && attn.ValueKind != JsonValueKind.Null &&
            (attn.ValueKind != JsonValueKind.Array || attn.GetArrayLength() > 0))
            throw new ConfigException($"{source}: 'attn_layer_idx' {attn.GetRawText()}: attention layers in a Mamba-2 model are not supported yet");
        MambaLMHeadConfig.AttentionConfig(json, source);
        if (fields.Bool("rms_norm") == false)
            throw new ConfigException($"{source}: 'rms_norm': false (LayerNorm blocks) is not supported; ArchLab's Mamba-2 blocks use RMSNorm");
        fields.Bool("residual_in_fp32"); // kernels and rounding only
        fields.Bool("fused_add_norm");

        var ssm = SsmConfig(json, source);
        string layer = ssm.String("layer") ?? "Mamba1";
        if (layer != "Mamba2") throw new ConfigException($"{source}: Mamba2 ssm_cfg 'layer' is '{layer}': this importer reads Mamba2 layers");
        foreach (var name in new[] { "dt_min", "dt_max", "dt_init_floor", "conv_init" }) ssm.OptionalDouble(name);
        ssm.Bool("use_mem_eff_path");
        ssm.Bool("sequence_parallel");
        if (ssm.Bool("D_has_hdim") == true)
            throw new ConfigException($"{source}: Mamba2 ssm_cfg 'D_has_hdim': true (a D per channel instead of per head) is not supported");
        if (ssm.Bool("rmsnorm") == false)
            throw new ConfigException($"{source}: Mamba2 ssm_cfg 'rmsnorm': false (y · SiLU(z) without the gated norm) is not supported");
        if (json.GetProperty("ssm_cfg").TryGetProperty("dt_limit", out var limit) && limit.ValueKind != JsonValueKind.Null)
            throw new ConfigException($"{source}: Mamba2 ssm_cfg 'dt_limit' {limit.GetRawText()}: clamping Δ is not supported (only the default (0, inf))");

        int dim = fields.Int("d_model");
        int expand = ssm.OptionalInt("expand") ?? 2;
        if (expand <= 0) throw new ConfigException($"{source}: Mamba2 ssm_cfg 'expand' must be a positive integer, got {expand}");
        long inner = (long)expand * dim;
        if (ssm.OptionalInt("d_ssm") is int dSsm && dSsm != inner)
            throw new ConfigException($"{source}: Mamba2 ssm_cfg 'd_ssm' = {dSsm} differs from expand·d_model = {inner}: a gated MLP inside the mixer is not supported");
        int headDim = ssm.OptionalInt("headdim") ?? 64;
        if (headDim <= 0 || inner % headDim != 0)
            throw new ConfigException($"{source}: Mamba2 ssm_cfg 'headdim' = {headDim} must be positive and divide expand·d_model = {inner}");
        int groups = ssm.OptionalInt("ngroups") ?? 1;
        if (groups <= 0 || inner / headDim % groups != 0)
            throw new ConfigException($"{source}: Mamba2 ssm_cfg 'ngroups' = {groups} must be positive and divide the number of heads {inner / headDim}");
        int chunk = ssm.OptionalInt("chunk_size") ?? 256;
        if (chunk <= 0) throw new ConfigException($"{source}: Mamba2 ssm_cfg 'chunk_size' must be positive, got {chunk}");

        int vocab = MambaLMHeadConfig.PaddedVocab(fields, source);
        return new ModelConfig
        {
            Arch = "mamba2",
            Dim = dim,
            Layers = fields.Int("n_layer"),
            Heads = 1, // unused by Mamba-2 layers (their heads are SsmHeadDim wide)
            VocabSize = vocab,
            NormEps = 1e-5, // MixerModel's norm_epsilon, which MambaConfig does not expose
            ContextLength = 2048,
            TiedEmbeddings = fields.Bool("tie_embeddings") ?? true,
            DState = ssm.OptionalInt("d_state") ?? 128,
            DConv = ssm.OptionalInt("d_conv") ?? 4,
            Expand = expand,
            ConvBias = ssm.Bool("conv_bias") ?? true,
            ProjBias = ssm.Bool("bias") ?? false,
            SsmHeadDim = headDim,
            SsmGroups = groups,
            SsmChunkSize = chunk,
            NormBeforeGate = ssm.Bool("norm_before_gate") ?? false,
            Mlp = mlpWidth > 0 ? "swiglu" : null,
            FfnHidden = MambaLMHeadConfig.MlpHidden(mlpWidth),
        }.Validate();
    }

    static OfficialConfig SsmConfig(JsonElement json, string source)
    {
        var ssm = json.GetProperty("ssm_cfg");
        if (ssm.ValueKind != JsonValueKind.Object)
            throw new ConfigException($"{source}: config field 'ssm_cfg' must be an object, got {ssm.GetRawText()}");
        if (ssm.TryGetProperty("A_init_range", out var range) && range.ValueKind is not (JsonValueKind.Array or JsonValueKind.Null))
            throw new ConfigException($"{source}: Mamba2 ssm_cfg 'A_init_range' must be a pair of numbers, got {range.GetRawText()}");
        return new OfficialConfig(ssm, $"{source} (Mamba2 ssm_cfg)", SsmFields);
    }

    public Dictionary<string, Tensor> MapWeights(IReadOnlyDictionary<string, Tensor> official, ModelConfig config)
    {
        var map = Backbone.MapWeights(official, config);
        for (int i = 0; i < config.Layers; i++)
            foreach (var name in Mamba2OnlyTensors)
                if (official.TryGetValue($"backbone.layers.{i}.mixer.{name}", out var t)) map[$"blocks.{i}.mixer.{name}"] = t;
        return map;
    }

    public IEnumerable<string> NotParameters(IReadOnlyDictionary<string, Tensor> official, ModelConfig config) =>
        Backbone.NotParameters(official, config);

    public string OfficialName(string archlabName) => Backbone.OfficialName(archlabName);
}
