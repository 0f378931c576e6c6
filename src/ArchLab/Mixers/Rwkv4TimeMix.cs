using ArchLab.Models;
using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace ArchLab.Mixers;

/// <summary>
/// RWKV-4 time mixing (Peng et al. 2023, "RWKV: Reinventing RNNs for the Transformer Era", §4.1: token shift, WKV
/// operator, output gating; BlinkDL RWKV-LM RWKV_TimeMix and the ChatRWKV runner's att_seq / att_one).
/// <para>Token shift: each of k, v, r reads a per-channel mix of this token and the previous one,
/// x̃ = μ ⊙ x_t + (1 − μ) ⊙ x_{t−1}. Then k = W_k x̃_k, v = W_v x̃_v, r = W_r x̃_r.</para>
/// <para>WKV with decay w = −exp(time_decay) (per channel, so e^w ∈ (0, 1)) and bonus u = time_first for the current token:
/// wkv_t = (Σ_{i&lt;t} e^{(t−1−i)w + k_i} v_i + e^{u + k_t} v_t) / (Σ_{i&lt;t} e^{(t−1−i)w + k_i} + e^{u + k_t}).</para>
/// <para>It runs as a recurrence over (a, b) = the two sums, stored as a·e^{−p}, b·e^{−p} with p the largest exponent
/// seen so far, so no exp overflows: the output uses q = max(p, u + k_t), the update q' = max(p + w, k_t).</para>
/// <para>A sequence goes through in blocks of <see cref="ScanChunk"/> tokens (<see cref="WkvChunk"/>): inside a block every
/// exponent is written out at once and each output row is normalised by its own largest exponent, so no exp overflows
/// and the per-token loop (≈23 tiny ops per token) becomes ≈25 ops per block; a single token uses the recurrence.</para>
/// <para>Output: W_o (σ(r) ⊙ wkv). The parameter <c>time_decay</c> holds the raw training value; w = −exp(time_decay) is
/// taken at every call, which keeps the decay negative while training (RWKV-LM does the same in its training model).</para>
/// </summary>
public sealed class Rwkv4TimeMix : nn.Module<Tensor, Tensor>, IMixer
{
    public readonly Parameter time_decay, time_first, time_mix_k, time_mix_v, time_mix_r;
    public readonly Projection key, value, receptance, output;
    readonly int dim, dimAtt;

    /// <summary>Tokens per block of the blocked WKV in <see cref="Forward"/> (memory grows as batch·dimAtt·ScanChunk²);
    /// 0 runs the token-by-token recurrence instead. Any value gives the same result up to rounding.</summary>
    public int ScanChunk { get; set; } = 16;

    public Rwkv4TimeMix(ModelConfig config, double outputInitStd) : base(nameof(Rwkv4TimeMix))
    {
        dim = config.Dim;
        dimAtt = config.DimAttention;
        var (decay, first, mixK, mixV, mixR) = Rwkv4.TimeMixInit(dim, dimAtt);
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
        var state = MixerState.As<Rwkv4TimeMixState>(initial, "RWKV-4 time mixing");
        if (time == 0) return (empty_like(x).MoveToOuterDisposeScope(), returnFinal ? state ?? Empty(batch, x) : null);

        // x_{t−1} for every t: the state's last input, then this chunk shifted by one.
        var first = state?.Shift.unsqueeze(1) ?? zeros([batch, 1, dim], x.dtype, x.device);
        var previous = cat([first, x.narrow(1, 0, time - 1)], 1);
        var (k, v, r) = Project(x, previous);

        var w = -time_decay.exp();
        var a = state?.A ?? zeros([batch, dimAtt], x.dtype, x.device);
        var b = state?.B ?? zeros([batch, dimAtt], x.dtype, x.device);
        var p = state?.P ?? full([batch, dimAtt], Rwkv4TimeMixState.EmptyExponent, x.dtype, x.device);
        var wkv = new List<Tensor>();
        if (ScanChunk <= 0) // the recurrence, token by token (the official att_seq loop)
        {
            for (long t = 0; t < time; t++)
            {
                Tensor token;
                (token, a, b, p) = WkvStep(k.select(1, t), v.select(1, t), w, a, b, p);
                wkv.Add(token.unsqueeze(1));
            }
        }
        else
        {
            for (long start = 0; start < time; start += ScanChunk)
            {
                long n = Math.Min(ScanChunk, time - start);
                Tensor block;
                (block, a, b, p) = WkvChunk(k.narrow(1, start, n), v.narrow(1, start, n), w, a, b, p);
                wkv.Add(block);
            }
        }

        var y = output.call(r * cat(wkv, 1));
        MixerState? final = null;
        if (returnFinal)
        {
            var target = state ?? new Rwkv4TimeMixState(batch, dim, dimAtt, x.dtype, x.device);
            target.Advance(x.select(1, time - 1).clone(), a, b, p, time); // a copy: a view would keep all of x alive
            final = target;
        }
        return (y.MoveToOuterDisposeScope(), final);
    }

    public Tensor Step(Tensor x, MixerState state)
    {
        using var scope = NewDisposeScope();
        var s = MixerState.Require<Rwkv4TimeMixState>(state, "RWKV-4 time mixing");
        var (k, v, r) = Project(x, s.Shift);
        var (wkv, a, b, p) = WkvStep(k, v, -time_decay.exp(), s.A, s.B, s.P);
        var y = output.call(r * wkv);
        s.Advance(x.alias(), a, b, p, 1);
        return y.MoveToOuterDisposeScope();
    }

    /// <summary>Token shift and the three projections: k, v and σ(r) for inputs x and previous inputs (any leading shape).</summary>
    (Tensor K, Tensor V, Tensor R) Project(Tensor x, Tensor previous)
    {
        var k = key.call(Rwkv4.TokenShift(x, previous, time_mix_k));
        var v = value.call(Rwkv4.TokenShift(x, previous, time_mix_v));
        var r = receptance.call(Rwkv4.TokenShift(x, previous, time_mix_r)).sigmoid();
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

    /// <summary>
    /// WKV for a block of n tokens, k and v [batch, n, dimAtt], from the state (a, b, p) before it; returns wkv
    /// [batch, n, dimAtt] and the state after it. Output j weighs token i &lt; j by e^{(j−1−i)w + k_i}, itself by
    /// e^{u + k_j}, and the carried sums by e^{j·w + p}; the state after the block weighs token i by e^{(n−1−i)w + k_i}
    /// and the carried sums by e^{n·w + p}. Each row is scaled by e^{−max exponent} (the scale cancels in the ratio and
    /// in (a, b, p), so it needs no gradient).
    /// </summary>
    (Tensor Wkv, Tensor A, Tensor B, Tensor P) WkvChunk(Tensor k, Tensor v, Tensor w, Tensor a, Tensor b, Tensor p)
    {
        long n = k.shape[1];
        var device = k.device;
        var kT = k.transpose(1, 2);                                          // [B, A, n]   k_i
        var vT = v.transpose(1, 2);                                          // [B, A, n]   v_i
        var j = arange(n, k.dtype, device);
        var lag = j.unsqueeze(1) - j.unsqueeze(0) - 1;                       // [n, n]      j − 1 − i
        var past = ones(n, n, ScalarType.Bool, device).tril(-1);            // i < j
        var wCol = w.view(-1, 1, 1);                                         // [A, 1, 1]
        var pastExp = wCol * lag + kT.unsqueeze(2);                          // [B, A, n, n] (j−1−i)w + k_i
        var bonus = (time_first + k).transpose(1, 2);                        // [B, A, n]   u + k_j
        var diagonal = eye(n, dtype: ScalarType.Bool, device: device);      // i = j
        var exponents = where(past, pastExp, full([], double.NegativeInfinity, k.dtype, device));
        exponents = where(diagonal, bonus.unsqueeze(3), exponents);          // [B, A, n, n], −∞ above the diagonal
        var carried = w.view(-1, 1) * j + p.unsqueeze(2);                   // [B, A, n]   j·w + p

        var scale = maximum(exponents.amax([3]), carried).detach();          // [B, A, n]
        var weights = (exponents - scale.unsqueeze(3)).exp();
        var carry = (carried - scale).exp();
        var num = weights.matmul(vT.unsqueeze(3)).squeeze(3) + carry * a.unsqueeze(2);
        var den = weights.sum(3) + carry * b.unsqueeze(2);
        var wkv = (num / den).transpose(1, 2);

        var endExp = w.view(-1, 1) * (n - 1 - j) + kT;                       // [B, A, n]   (n−1−i)w + k_i
        var endCarried = n * w + p;                                          // [B, A]      n·w + p
        var pNext = maximum(endExp.amax([2]), endCarried).detach();
        var endWeights = (endExp - pNext.unsqueeze(2)).exp();
        var endCarry = (endCarried - pNext).exp();
        var aNext = (endWeights * vT).sum(2) + endCarry * a;
        var bNext = endWeights.sum(2) + endCarry * b;
        return (wkv, aNext, bNext, pNext);
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
    /// σ(r)·wkv (2) = 25·dimAtt. A recurrence: independent of the context length. (The blocked form used for whole
    /// sequences trades ops for arithmetic: about 10·dimAtt·ScanChunk/2 per token more, counted here as the recurrence.)
    /// </summary>
    public long NonParameterFlopsPerToken(long contextLength) => 12L * dim + 25L * dimAtt;
}
