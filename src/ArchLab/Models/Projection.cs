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

    public override Tensor forward(Tensor x) => Autocast.Linear(x, weight, bias);

    /// <summary>y, left in bf16 inside <see cref="Autocast.Bf16"/> (<see cref="Autocast.LinearKeepingBf16"/>).</summary>
    public Tensor ForwardKeepingBf16(Tensor x) => Autocast.LinearKeepingBf16(x, weight, bias);
}
