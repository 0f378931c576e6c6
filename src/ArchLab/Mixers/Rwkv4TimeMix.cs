using ArchLab.Engine;
using ArchLab.Engine.Layers;
using ArchLab.Kernels;
using ArchLab.Kernels.Reference;
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
/// <para>A sequence goes through <see cref="Wkv4"/>: the fused CPU kernel (hand-written backward) by default, or the
/// reference's blocked tensor-op scan (blocks of <see cref="ScanChunk"/> tokens) with backend reference. A single decoding
/// step runs the reference recurrence (<see cref="Wkv4Reference.Step"/>).</para>
/// <para>Output: W_o (σ(r) ⊙ wkv). The parameter <c>time_decay</c> holds the raw training value; w = −exp(time_decay) is
/// taken at every call, which keeps the decay negative while training (RWKV-LM does the same in its training model).</para>
/// </summary>
public sealed class Rwkv4TimeMix : Mixer, ILeanConvertible
{
    public readonly Parameter time_decay, time_first, time_mix_k, time_mix_v, time_mix_r;
    public readonly Projection key, value, receptance, output;
    readonly int dim, dimAtt;

    /// <summary>Tokens per block of the reference backend's blocked WKV (memory grows as batch·dimAtt·ScanChunk²);
    /// 0 runs its token-by-token recurrence instead. Any value gives the same result up to rounding; the fused kernel
    /// ignores it.</summary>
    public int ScanChunk { get; set; } = Wkv4Reference.DefaultBlock;

    /// <summary>RWKV-4's blocks: LayerNorm, channel mixing as the feed-forward, and a LayerNorm on the embedding (ln0);
    /// whole sequences run the WKV in blocks; imports BlinkDL checkpoints.</summary>
    public static readonly MixerSpec Spec = new("rwkv4", (config, _, outputStd) => new Rwkv4TimeMix(config, outputStd))
    {
        DefaultNorm = "layernorm",
        DefaultMlp = "rwkv_channel_mix",
        EmbeddingNorm = true,
        UsesScanBackend = true,
        TrainingForms = [new("blocked", (config, _) => config)], // WKV in blocks of ScanChunk tokens
        Importer = new Checkpoints.Importers.Rwkv4Importer(),
        ValidateConfig = config => config.Rwkv.Validate(),
        ParameterCount = (config, _) => 2.0 * config.Rwkv.DimAttention + 3.0 * config.Dim + 4.0 * config.Dim * config.Rwkv.DimAttention,
        StateElements = config => config.Dim + 3.0 * config.Rwkv.DimAttention, // token shift; a, b, p
    };

    public Rwkv4TimeMix(ModelConfig config, double outputInitStd) : base(nameof(Rwkv4TimeMix))
    {
        dim = config.Dim;
        dimAtt = config.Rwkv.DimAttention;
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

        public override (Tensor Output, MixerState? Final) Forward(Tensor x, MixerState? initial = null, bool returnFinal = false)
    {
        using var scope = NewDisposeScope();
        long batch = x.shape[0], time = x.shape[1];
        var state = MixerState.As<Rwkv4TimeMixState>(initial, "RWKV-4 time mixing");
        if (time == 0) return (empty_like(x).MoveToOuterDisposeScope(), returnFinal ? state ?? Empty(batch, x) : null);

        // x_{t−1} for every t: the state's last input, then this chunk shifted by one.
        var first = state?.Shift.unsqueeze(1) ?? zeros([batch, 1, dim], x.dtype, x.device);
        var previous = cat([first, x.narrow(1, 0, time - 1)], 1);
        var (k, v, r) = Project(x, previous);

        var (wkv, last) = Wkv4.Forward(-time_decay.exp(), time_first, k, v, state?.Wkv, Backend, ScanChunk);
        var y = output.call(r * wkv);
        MixerState? final = null;
        if (returnFinal)
        {
            var target = state ?? new Rwkv4TimeMixState(batch, dim, dimAtt, x.dtype, x.device);
            target.Advance(x.select(1, time - 1).clone(), last, time); // a copy: a view would keep all of x alive
            final = target;
        }
        return (y.MoveToOuterDisposeScope(), final);
    }

    public override Tensor Step(Tensor x, MixerState state)
    {
        using var scope = NewDisposeScope();
        var s = MixerState.Require<Rwkv4TimeMixState>(state, "RWKV-4 time mixing");
        var (k, v, r) = Project(x, s.Shift);
        var (wkv, next) = Wkv4Reference.Step(-time_decay.exp(), time_first, k, v, s.Wkv);
        var y = output.call(r * wkv);
        s.Advance(x.alias(), next, 1);
        return y.MoveToOuterDisposeScope();
    }

    public ILeanLayer ToLean(LeanBuilder b)
    {
        using var scope = NewDisposeScope();
        return new LeanRwkv4TimeMix(b.Matrix(key), b.Matrix(value), b.Matrix(receptance), b.Matrix(output), LeanBuilder.Vector(time_mix_k),
            LeanBuilder.Vector(time_mix_v), LeanBuilder.Vector(time_mix_r), LeanBuilder.Vector(-time_decay.exp()), LeanBuilder.Vector(time_first));
    }

    /// <summary>Token shift and the three projections: k, v and σ(r) for inputs x and previous inputs (any leading shape).</summary>
    (Tensor K, Tensor V, Tensor R) Project(Tensor x, Tensor previous)
    {
        var k = key.call(Rwkv4.TokenShift(x, previous, time_mix_k));
        var v = value.call(Rwkv4.TokenShift(x, previous, time_mix_v));
        var r = receptance.call(Rwkv4.TokenShift(x, previous, time_mix_r)).sigmoid();
        return (k, v, r);
    }

    Rwkv4TimeMixState Empty(long batch, Tensor x) => new(batch, dim, dimAtt, x.dtype, x.device);

    public override MixerState AllocateState(long batch, long maxLength, ScalarType dtype, Device device) =>
        new Rwkv4TimeMixState(batch, dim, dimAtt, dtype, device);

    /// <summary>Shift [B, dim] plus a, b, p [B, dimAtt]: independent of length.</summary>
    public override long StateBytes(long batch, long length, ScalarType dtype) =>
        batch * (dim + 3L * dimAtt) * ElementSize(dtype);

    /// <summary>
    /// Per token, counting each add, multiply, max, exp, sigmoid and divide as one FLOP: three token-shift mixes at
    /// 4 per channel (x·μ, 1−μ, x′·(1−μ), sum) = 12·dim; per attention channel the WKV output (12: bonus add, max, 2 subs,
    /// 2 exps, 4 mul/adds for numerator and denominator, divide… see <see cref="Wkv4Reference.Step"/>), the state update (11) and
    /// σ(r)·wkv (2) = 25·dimAtt. A recurrence: independent of the context length. (The blocked form used for whole
    /// sequences trades ops for arithmetic: about 10·dimAtt·ScanChunk/2 per token more, counted here as the recurrence.)
    /// </summary>
    public override long NonParameterFlopsPerToken(long contextLength) => 12L * dim + 25L * dimAtt;
}
