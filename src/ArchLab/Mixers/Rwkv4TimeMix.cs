using ArchLab.Models;
using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace ArchLab.Mixers;

/// <summary>
/// RWKV-4 time mixing (Peng et al. 2023, "RWKV: Reinventing RNNs for the Transformer Era", eqs. 11–16; BlinkDL
/// RWKV-LM RWKV_TimeMix and the ChatRWKV runner's att_seq / att_one).
/// <para>Token shift: each of k, v, r reads a per-channel mix of this token and the previous one,
/// x̃ = μ ⊙ x_t + (1 − μ) ⊙ x_{t−1}. Then k = W_k x̃_k, v = W_v x̃_v, r = W_r x̃_r.</para>
/// <para>WKV with decay w = −exp(time_decay) (per channel, so e^w ∈ (0, 1)) and bonus u = time_first for the current token:
/// wkv_t = (Σ_{i&lt;t} e^{(t−1−i)w + k_i} v_i + e^{u + k_t} v_t) / (Σ_{i&lt;t} e^{(t−1−i)w + k_i} + e^{u + k_t}).</para>
/// <para>It runs as a recurrence over (a, b) = the two sums, stored as a·e^{−p}, b·e^{−p} with p the largest exponent
/// seen so far, so no exp overflows: the output uses q = max(p, u + k_t), the update q' = max(p + w, k_t).</para>
/// <para>Output: W_o (σ(r) ⊙ wkv). The parameter <c>time_decay</c> holds the raw training value; w = −exp(time_decay) is
/// taken at every call, which keeps the decay negative while training (RWKV-LM does the same in its training model).</para>
/// </summary>
public sealed class Rwkv4TimeMix : nn.Module<Tensor, Tensor>, IMixer
{
    public readonly Parameter time_decay, time_first, time_mix_k, time_mix_v, time_mix_r;
    public readonly Projection key, value, receptance, output;
    readonly int dim, dimAtt;

    public Rwkv4TimeMix(ModelConfig config, double outputInitStd) : base(nameof(Rwkv4TimeMix))
    {
        dim = config.Dim;
        dimAtt = config.DimAttention;
        var (decay, first, mixK, mixV, mixR) = Rwkv4Init.TimeMix(dim, dimAtt);
        time_decay = new Parameter(decay);
        time_first = new Parameter(first);
        time_mix_k = new Parameter(mixK);
        time_mix_v = new Parameter(mixV);
        time_mix_r = new Parameter(mixR);
        key = new Projection(dim, dimAtt);
        value = new Projection(dim, dimAtt);
        receptance = new Projection(dim, dimAtt);
        output = new Projection(dimAtt, dim, initStd: outputInitStd);
        RegisterComponents();
    }

    public override Tensor forward(Tensor x) => Forward(x).Output;

    public (Tensor Output, MixerState? Final) Forward(Tensor x, MixerState? initial = null, bool returnFinal = false)
    {
        using var scope = NewDisposeScope();
        long batch = x.shape[0], time = x.shape[1];
        var state = initial as Rwkv4TimeMixState ?? (initial is null
            ? null
            : throw new ArgumentException($"RWKV-4 time mixing needs a {nameof(Rwkv4TimeMixState)}, got {initial.GetType().Name}"));
        if (time == 0) return (x.MoveToOuterDisposeScope(), returnFinal ? state ?? Empty(batch, x) : null);

        // x_{t−1} for every t: the state's last input, then this chunk shifted by one.
        var first = state?.Shift.unsqueeze(1) ?? zeros([batch, 1, dim], x.dtype, x.device);
        var previous = cat([first, x.narrow(1, 0, time - 1)], 1);
        var (k, v, r) = Project(x, previous);

        var w = -time_decay.exp();
        var a = state?.A ?? zeros([batch, dimAtt], x.dtype, x.device);
        var b = state?.B ?? zeros([batch, dimAtt], x.dtype, x.device);
        var p = state?.P ?? full([batch, dimAtt], Rwkv4TimeMixState.EmptyExponent, x.dtype, x.device);
        var wkv = new Tensor[time];
        for (long t = 0; t < time; t++)
            (wkv[t], a, b, p) = WkvStep(k.select(1, t), v.select(1, t), w, a, b, p);

        var y = output.call(r * stack(wkv, 1));
        MixerState? final = null;
        if (returnFinal)
        {
            var target = state ?? new Rwkv4TimeMixState(batch, dim, dimAtt, x.dtype, x.device);
            target.Advance(x.select(1, time - 1), a, b, p, time);
            final = target;
        }
        return (y.MoveToOuterDisposeScope(), final);
    }

    public Tensor Step(Tensor x, MixerState state)
    {
        using var scope = NewDisposeScope();
        var s = state as Rwkv4TimeMixState
                ?? throw new ArgumentException($"RWKV-4 time mixing needs a {nameof(Rwkv4TimeMixState)}, got {state.GetType().Name}");
        var (k, v, r) = Project(x, s.Shift);
        var (wkv, a, b, p) = WkvStep(k, v, -time_decay.exp(), s.A, s.B, s.P);
        var y = output.call(r * wkv);
        s.Advance(x.alias(), a, b, p, 1);
        return y.MoveToOuterDisposeScope();
    }

    /// <summary>Token shift and the three projections: k, v and σ(r) for inputs x and previous inputs (any leading shape).</summary>
    (Tensor K, Tensor V, Tensor R) Project(Tensor x, Tensor previous)
    {
        var k = key.call(Rwkv4Init.Shift(x, previous, time_mix_k));
        var v = value.call(Rwkv4Init.Shift(x, previous, time_mix_v));
        var r = receptance.call(Rwkv4Init.Shift(x, previous, time_mix_r)).sigmoid();
        return (k, v, r);
    }

    /// <summary>
    /// One token of the stable WKV recurrence, all [batch, dimAtt]: the output with the bonus u on the current token,
    /// then the state decayed by w and extended by this token (ChatRWKV's att_one arithmetic).
    /// </summary>
    (Tensor Wkv, Tensor A, Tensor B, Tensor P) WkvStep(Tensor k, Tensor v, Tensor w, Tensor a, Tensor b, Tensor p)
    {
        var bonus = time_first + k;
        var q = maximum(p, bonus);
        var e1 = (p - q).exp();
        var e2 = (bonus - q).exp();
        var wkv = (e1 * a + e2 * v) / (e1 * b + e2);

        var decayed = w + p;
        var qNext = maximum(decayed, k);
        var d1 = (decayed - qNext).exp();
        var d2 = (k - qNext).exp();
        return (wkv, d1 * a + d2 * v, d1 * b + d2, qNext);
    }

    Rwkv4TimeMixState Empty(long batch, Tensor x) => new(batch, dim, dimAtt, x.dtype, x.device);

    public MixerState AllocateState(long batch, long maxLength, ScalarType dtype, Device device) =>
        new Rwkv4TimeMixState(batch, dim, dimAtt, dtype, device);

    /// <summary>Shift [B, dim] plus a, b, p [B, dimAtt]: independent of length.</summary>
    public long StateBytes(long batch, long length, ScalarType dtype) =>
        batch * (dim + 3L * dimAtt) * Attention.ElementSize(dtype);

    /// <summary>
    /// Per token, counting each add, multiply, max, exp, sigmoid and divide as one FLOP: three token-shift mixes at
    /// 4 per channel (x·μ, 1−μ, x′·(1−μ), sum) = 12·dim; per attention channel the WKV output (12: bonus add, max, 2 subs,
    /// 2 exps, 4 mul/adds for numerator and denominator, divide… see <see cref="WkvStep"/>), the state update (11) and
    /// σ(r)·wkv (2) = 25·dimAtt. A recurrence: independent of the context length.
    /// </summary>
    public long NonParameterFlopsPerToken(long contextLength) => 12L * dim + 25L * dimAtt;
}

/// <summary>RWKV-4 helpers shared by time and channel mixing: the token shift and RWKV-LM's initial values.</summary>
public static class Rwkv4Init
{
    /// <summary>Token shift: μ ⊙ x + (1 − μ) ⊙ x_prev.</summary>
    public static Tensor Shift(Tensor x, Tensor previous, Tensor mix) => x * mix + previous * (1 - mix);

    /// <summary>
    /// RWKV-LM's per-channel initial values (generate_init_weight / RWKV_TimeMix.__init__), with the layer-depth ratios
    /// fixed at a middle layer (0.5), since a mixer is built without its layer index: decay from −5 to 3 across
    /// channels on a power curve, bonus log 0.3 plus a ±0.5 zigzag, token-shift mixes rising with the channel index.
    /// </summary>
    public static (Tensor Decay, Tensor First, Tensor MixK, Tensor MixV, Tensor MixR) TimeMix(int dim, int dimAtt)
    {
        const double depth = 0.5, remaining = 0.5; // ratio_0_to_1, ratio_1_to_almost0
        var h = arange(dimAtt, dtype: ScalarType.Float64) / Math.Max(dimAtt - 1, 1);
        var decay = -5 + 8 * h.pow(0.7 + 1.3 * depth);
        var zigzag = (arange(dimAtt, dtype: ScalarType.Float64) + 1).remainder(3) - 1;
        var first = Math.Log(0.3) + 0.5 * zigzag;
        var ratio = arange(dim, dtype: ScalarType.Float64) / dim;
        return (decay.to(ScalarType.Float32), first.to(ScalarType.Float32), ratio.pow(remaining).to(ScalarType.Float32),
                (ratio.pow(remaining) + 0.3 * depth).to(ScalarType.Float32), ratio.pow(0.5 * remaining).to(ScalarType.Float32));
    }

    /// <summary>Channel mixing's token-shift mixes, both ratio^(1 − depth) (RWKV_ChannelMix.__init__).</summary>
    public static (Tensor MixK, Tensor MixR) ChannelMix(int dim)
    {
        var ratio = arange(dim, dtype: ScalarType.Float64) / dim;
        return (ratio.pow(0.5).to(ScalarType.Float32), ratio.pow(0.5).to(ScalarType.Float32));
    }
}
