using static TorchSharp.torch;

namespace ArchLab.Mixers;

/// <summary>What RWKV-4's time and channel mixing share: the token shift and RWKV-LM's initial values.</summary>
public static class Rwkv4
{
    /// <summary>Token shift (Peng et al. 2023, §4.1): μ ⊙ x_t + (1 − μ) ⊙ x_{t−1}, per channel.</summary>
    public static Tensor TokenShift(Tensor x, Tensor previous, Tensor mix) => x * mix + previous * (1 - mix);

    // RWKV-LM's init depends on the layer's depth through ratio_0_to_1 = l/(L−1) and ratio_1_to_almost0 = 1 − l/L.
    // A mixer is built without its layer index, so every layer starts as a middle layer would.
    const double Depth = 0.5, Remaining = 0.5;

    /// <summary>
    /// Initial time-mixing values as RWKV-LM sets them (RWKV_TimeMix.__init__): decay rising from −5 to 3 across the
    /// channels on a power curve, bonus log 0.3 plus a ±0.5 zigzag, token-shift mixes rising with the channel index.
    /// </summary>
    public static (Tensor Decay, Tensor First, Tensor MixK, Tensor MixV, Tensor MixR) TimeMixInit(int dim, int dimAtt)
    {
        using var scope = NewDisposeScope();
        var h = arange(dimAtt, dtype: ScalarType.Float64);
        var decay = -5 + 8 * (h / Math.Max(dimAtt - 1, 1)).pow(0.7 + 1.3 * Depth);
        var first = Math.Log(0.3) + 0.5 * ((h + 1).remainder(3) - 1);
        var ratio = arange(dim, dtype: ScalarType.Float64) / dim;
        var mixK = ratio.pow(Remaining);
        var mixV = ratio.pow(Remaining) + 0.3 * Depth;
        var mixR = ratio.pow(0.5 * Remaining);
        return (F32(decay), F32(first), F32(mixK), F32(mixV), F32(mixR));
    }

    /// <summary>Initial channel-mixing token-shift mixes, both ratio^(1 − depth) (RWKV_ChannelMix.__init__).</summary>
    public static (Tensor MixK, Tensor MixR) ChannelMixInit(int dim)
    {
        using var scope = NewDisposeScope();
        var mix = (arange(dim, dtype: ScalarType.Float64) / dim).pow(Remaining);
        return (F32(mix), F32(mix.clone()));
    }

    static Tensor F32(Tensor t) => t.to(ScalarType.Float32).MoveToOuterDisposeScope();
}
