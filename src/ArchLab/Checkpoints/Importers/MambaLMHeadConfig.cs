using System.Text.Json;
using ArchLab.Models;

namespace ArchLab.Checkpoints.Importers;

/// <summary>The model-level fields of state-spaces/mamba's <c>MambaConfig</c>, read alike for Mamba and Mamba-2 layers.</summary>
static class MambaLMHeadConfig
{
    public static readonly HashSet<string> KnownFields =
    [
        "d_model", "d_intermediate", "n_layer", "vocab_size", "ssm_cfg", "attn_layer_idx", "attn_cfg", "rms_norm",
        "residual_in_fp32", "fused_add_norm", "pad_vocab_size_multiple", "tie_embeddings",
    ];

    /// <summary>GatedMLP's multiple_of: create_block leaves it at its default.</summary>
    const int GatedMlpMultiple = 128;

    /// <summary>d_intermediate: 0 (no MLP) or the GatedMLP's requested width, within the limit.</summary>
    public static int MlpWidth(OfficialConfig fields, string source)
    {
        int mlpWidth = fields.OptionalInt("d_intermediate") ?? 0;
        if (mlpWidth < 0) throw new ConfigException($"{source}: 'd_intermediate' must be 0 (no MLP) or positive, got {mlpWidth}");
        if (mlpWidth > ModelLimits.MlpWidth) throw new ConfigException($"{source}: 'd_intermediate' = {mlpWidth} is above the limit {ModelLimits.MlpWidth}");
        return mlpWidth;
    }

    /// <summary>The GatedMLP's hidden width (d_intermediate rounded up to its multiple_of), or null without an MLP.</summary>
    public static int? MlpHidden(int mlpWidth) =>
        mlpWidth > 0 ? (mlpWidth + GatedMlpMultiple - 1) / GatedMlpMultiple * GatedMlpMultiple : null;

    /// <summary>attn_cfg, which must be an object where present (an undefined element where absent).</summary>
    public static JsonElement AttentionConfig(JsonElement json, string source)
    {
        if (json.TryGetProperty("attn_cfg", out var attnCfg) && attnCfg.ValueKind is not (JsonValueKind.Object or JsonValueKind.Null))
            throw new ConfigException($"{source}: config field 'attn_cfg' must be an object, got {attnCfg.GetRawText()}");
        return attnCfg;
    }

    /// <summary>vocab_size rounded up to pad_vocab_size_multiple (default 8): MambaLMHeadModel pads the table and the logits.</summary>
    public static int PaddedVocab(OfficialConfig fields, string source)
    {
        int vocab = fields.Int("vocab_size");
        int multiple = fields.OptionalInt("pad_vocab_size_multiple") ?? 8;
        if (multiple <= 0) throw new ConfigException($"{source}: 'pad_vocab_size_multiple' must be positive, got {multiple}");
        return (vocab + multiple - 1) / multiple * multiple;
    }
}
