using ArchLab.Engine;
using ArchLab.Engine.Layers;
using ArchLab.Models;
using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace ArchLab.Mixers;

/// <summary>
/// RWKV-4 channel mixing, the block's feed-forward (Peng et al. 2023, §4.1, channel-mixing block; RWKV-LM
/// RWKV_ChannelMix, ChatRWKV ffn_seq / ffn_one): token shift x̃ = μ ⊙ x_t + (1 − μ) ⊙ x_{t−1} for k and r, then
/// σ(W_r x̃_r) ⊙ W_v (max(W_k x̃_k, 0))². It reads the previous token, so it is stateful and is a <see cref="Mixer"/>;
/// <see cref="Block"/> keeps its state next to the time mixing's.
/// </summary>
public sealed class Rwkv4ChannelMix : TokenShiftMixer, ILeanConvertible
{
    public readonly Parameter time_mix_k, time_mix_r;
    public readonly Projection key, receptance, value;
    readonly int dim, hidden;

    public Rwkv4ChannelMix(int dim, int hidden, double outputInitStd) : base(nameof(Rwkv4ChannelMix), dim, "RWKV-4 channel mixing")
    {
        this.dim = dim;
        this.hidden = hidden;
        var (mixK, mixR) = Rwkv4.ChannelMixInit(dim);
        time_mix_k = new Parameter(mixK);
        time_mix_r = new Parameter(mixR);
        key = new Projection(dim, hidden);
        receptance = new Projection(dim, dim);
        value = new Projection(hidden, dim, initStd: outputInitStd);
        RegisterComponents();
    }

    public ILeanLayer ToLean(LeanBuilder b) => new LeanRwkv4ChannelMix(b.Matrix(key), b.Matrix(receptance), b.Matrix(value),
        LeanBuilder.Vector(time_mix_k), LeanBuilder.Vector(time_mix_r));

    /// <summary>σ(r) ⊙ W_v relu(k)² for inputs x and previous inputs (any leading shape).</summary>
    protected override Tensor Mix(Tensor x, Tensor previous)
    {
        var k = nn.functional.relu(key.call(Rwkv4.TokenShift(x, previous, time_mix_k))).square();
        var r = receptance.call(Rwkv4.TokenShift(x, previous, time_mix_r)).sigmoid();
        return r * value.call(k);
    }

    /// <summary>Two token-shift mixes (4 per channel each), relu and square (2 per hidden unit), σ(r) and the gate (2 per channel).</summary>
    public override long NonParameterFlopsPerToken(long contextLength) => 10L * dim + 2L * hidden;
}
