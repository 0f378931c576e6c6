using ArchLab.Runtime;
using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace ArchLab.Models;

/// <summary>A linear map y = x·Wᵀ (+ b) whose matmul runs in bf16 under <see cref="Autocast.Bf16"/>.</summary>
public sealed class Projection : nn.Module<Tensor, Tensor>
{
    public readonly Parameter weight;
    public readonly Parameter? bias;

    public Projection(long inFeatures, long outFeatures, bool hasBias = false, double initStd = 0.02) : base(nameof(Projection))
    {
        weight = new Parameter(torch.empty(outFeatures, inFeatures));
        nn.init.normal_(weight, 0.0, initStd);
        if (hasBias) bias = new Parameter(torch.zeros(outFeatures));
        RegisterComponents();
    }

    /// <summary>Inside <see cref="Autocast.Bf16"/>, return y in bf16 (<see cref="Autocast.LinearKeepingBf16"/>) instead of
    /// float32: for a projection whose output only feeds elementwise work and another projection (SwiGLU's hidden layer).</summary>
    public bool KeepsBf16Output { get; init; }

    public override Tensor forward(Tensor x) =>
        KeepsBf16Output ? Autocast.LinearKeepingBf16(x, weight, bias) : Autocast.Linear(x, weight, bias);
}
