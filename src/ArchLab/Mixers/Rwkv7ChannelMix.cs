using ArchLab.Engine;
using ArchLab.Engine.Layers;
using ArchLab.Models;
using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace ArchLab.Mixers;

/// <summary>
/// RWKV-7 channel mixing, the block's feed-forward (BlinkDL RWKV-LM RWKV_CMix_x070): one token shift
/// x_k = x + (x' − x) ⊙ μ_k with the previous token's input x', then W_v relu(W_k x_k)². Unlike RWKV-4's
/// (<see cref="Rwkv4ChannelMix"/>) it has no receptance gate and mixes towards the previous token with μ rather than
/// towards the current one. It reads the previous token, so it is stateful and is a <see cref="Mixer"/>.
/// Official init: μ_k = 1 − (i/dim)^((1 − l/L)⁴), W_k orthogonal, W_v zero (generate_init_weight).
/// </summary>
public sealed class Rwkv7ChannelMix : TokenShiftMixer, ILeanConvertible
{
    public readonly Parameter x_k;
    public readonly Projection key, value;
    readonly int dim, hidden;

    public Rwkv7ChannelMix(int dim, int hidden, int layer, int layers) : base(nameof(Rwkv7ChannelMix), dim, "RWKV-7 channel mixing")
    {
        this.dim = dim;
        this.hidden = hidden;
        x_k = new Parameter(Rwkv7.ShiftMix(dim, Math.Pow(Rwkv7.Ratios(layer, layers).OneToAlmostZero, 4)));
        key = new Projection(dim, hidden);
        value = new Projection(hidden, dim);
        using (no_grad())
        {
            nn.init.orthogonal_(key.weight, 1.0);
            value.weight.zero_();
        }
        RegisterComponents();
    }

    public ILeanLayer ToLean(LeanBuilder b) => new LeanRwkv7ChannelMix(b.Matrix(key), b.Matrix(value), LeanBuilder.Vector(x_k));

    protected override Tensor Mix(Tensor x, Tensor previous) => value.call(nn.functional.relu(key.call(x + (previous - x) * x_k)).square());

    /// <summary>The token shift (3 per channel: difference, scale, add), relu and square (2 per hidden unit).</summary>
    public override long NonParameterFlopsPerToken(long contextLength) => 3L * dim + 2L * hidden;
}
