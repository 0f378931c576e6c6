using TorchSharp;
using static TorchSharp.torch;

namespace ArchLab.Models;

/// <summary>
/// The feed-forward layers a block can use after its mixer; "none" leaves the block with the mixer alone (Mamba).
/// One that reads earlier tokens (RWKV's channel mixing) is a <see cref="Mixers.Mixer"/> and gets a state.
/// </summary>
public static class Mlps
{
    public static readonly string[] Names = ["swiglu", "glu", "rwkv_channel_mix", "rwkv7_channel_mix", "none"];

    /// <summary>The MLP module, or null for "none".</summary>
    public static nn.Module<Tensor, Tensor>? Create(string kind, ModelConfig config, double outputInitStd, int layer = 0) => kind switch
    {
        "swiglu" => new SwiGluMlp(config.Dim, config.FfnHiddenSize, outputInitStd),
        "glu" => new GluMlp(config.Dim, config.FfnHiddenSize, config.GluActivation ?? "swish", outputInitStd),
        "rwkv_channel_mix" => new Mixers.Rwkv4ChannelMix(config.Dim, config.FfnHidden ?? 4 * config.Dim, outputInitStd),
        "rwkv7_channel_mix" => new Mixers.Rwkv7ChannelMix(config.Dim, config.FfnHidden ?? 4 * config.Dim, layer, config.Layers),
        "none" => null,
        _ => throw new ConfigException($"unknown mlp '{kind}' (known: {string.Join(", ", Names)})"),
    };

}
