using TorchSharp;
using static TorchSharp.torch;

namespace ArchLab.Models;

/// <summary>The normalisation layers blocks can use: "rmsnorm" (LLaMA, Mamba, RetNet) or "layernorm" (RWKV); each mixer's default is in <see cref="Mixers.MixerRegistry"/>.</summary>
public static class Norms
{
    public static readonly string[] Names = ["rmsnorm", "layernorm"];

    public static nn.Module<Tensor, Tensor> Create(string kind, int dim, double eps) => kind switch
    {
        "rmsnorm" => new RmsNorm(dim, eps),
        "layernorm" => nn.LayerNorm(dim, eps),
        _ => throw new ConfigException($"unknown norm '{kind}' (known: {string.Join(", ", Names)})"),
    };
}
