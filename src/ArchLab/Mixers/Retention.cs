using ArchLab.Engine;
using ArchLab.Engine.Layers;
using ArchLab.Models;
using TorchSharp;
using static TorchSharp.torch;

namespace ArchLab.Mixers;

/// <summary>
/// RetNet multi-scale retention (Sun et al. 2023, "Retentive Network", §2.1–2.2; torchscale MultiScaleRetention).
/// Head h decays by γ_h = 1 − 2^(−5−h). Queries and keys (keys scaled by keyDim^−½) are rotated by the xPos-style
/// angle n·θ (theta_shift, interleaved pairs, θ_i = 10000^(−i/(keyDim/2−1))), then per head
///   oₙ = Σ_{j≤n} γ^(n−j) (qₙ·k_j) v_j,
/// normalised per row, RMS-normalised per head (group norm without affine), gated by swish(g) and projected out.
/// The three official forms rescale each row differently before the group norm, which removes a row scale only up to
/// its eps, so each form is reproduced with its own formula:
///   • parallel (paper eq. 5; torchscale parallel_forward): Forward from an empty state when <see cref="Form"/> is Parallel;
///   • chunkwise (eq. 7; chunk_recurrent_forward): Forward when <see cref="Form"/> is Chunkwise, and every Forward that
///     continues from a state (the parallel form has no term for one);
///   • recurrent (eq. 6; recurrent_forward): Step.
/// With eps → 0 all three are the same function. Decay logs and angles are made in float32 first, as torchscale's
/// RetNetRelPos buffers are, then cast to the working dtype.
/// </summary>
public sealed class Retention : Mixer, ILeanConvertible
{
    public readonly Projection q_proj, k_proj, v_proj, g_proj, out_proj;
    readonly int heads, keyDim, valueDim; // per head
    readonly double scaling, eps;
    readonly int? chunkSize;

    /// <summary>The form of whole-sequence passes from an empty state (training); from the config's retention_chunkwise.</summary>
    public RetentionForm Form { get; set; }
    readonly float[] logDecay; // [heads]: log γ_h, float32
    readonly float[] angle;    // [keyDim]: θ_i, each repeated for its pair, float32

    /// <summary>torchscale's RetNet blocks: RMSNorm and a GLU feed-forward; whole sequences run parallel or chunkwise;
    /// imports torchscale checkpoints.</summary>
    public static readonly MixerSpec Spec = new("retnet", (config, _, _) => new Retention(config)) // torchscale's init, not GPT-2's
    {
        DefaultNorm = "rmsnorm",
        DefaultMlp = "glu",
        TrainingForms =
        [
            new("parallel", (config, _) => config with { RetentionChunkwise = null }) { Quadratic = true },
            new("chunkwise", (config, chunk) => config with { RetentionChunkwise = true, RetentionChunkSize = chunk }),
        ],
        Importer = new Checkpoints.Importers.RetNetImporter(),
        ValidateConfig = config => config.Retention.Validate(),
        ParameterCount = ParameterCount,
        StateElements = config => (double)config.Heads * (config.Dim / config.Heads) * (config.Retention.ValueWidth / config.Heads) + config.Heads,
    };

    /// <summary>q, k (dim → dim), v, g (dim → value width) and out (value width → dim), no biases.</summary>
    static double ParameterCount(ModelConfig config, int layer)
    {
        double dim = config.Dim;
        double keys = config.Heads * (double)(config.Dim / config.Heads);
        double values = config.Heads * (double)(config.Retention.ValueWidth / config.Heads);
        return 2 * dim * keys + 2 * dim * values + values * dim;
    }

    public Retention(ModelConfig config) : base(nameof(Retention))
    {
        heads = config.Heads;
        keyDim = config.Dim / heads;
        valueDim = config.Retention.ValueWidth / heads;
        scaling = Math.Pow(keyDim, -0.5);
        eps = config.NormEps;
        chunkSize = config.RetentionChunkSize;
        Form = config.RetentionChunkwise == true ? RetentionForm.Chunkwise : RetentionForm.Parallel;
        (logDecay, angle) = Tables(heads, keyDim);

        q_proj = new Projection(config.Dim, heads * keyDim);
        k_proj = new Projection(config.Dim, heads * keyDim);
        v_proj = new Projection(config.Dim, heads * valueDim);
        g_proj = new Projection(config.Dim, heads * valueDim);
        out_proj = new Projection(heads * valueDim, config.Dim);
        using (no_grad()) // torchscale's reset_parameters: Xavier-uniform, gain 2^−2.5 (2^−1 for the output)
        {
            foreach (var p in new[] { q_proj, k_proj, v_proj, g_proj }) nn.init.xavier_uniform_(p.weight, Math.Pow(2, -2.5));
            nn.init.xavier_uniform_(out_proj.weight, 0.5);
        }
        RegisterComponents();
    }

    /// <summary>
    /// torchscale's RetNetRelPos buffers, in float32: decay = log(1 − 2^(−5−h)) and angle = 1 / 10000^linspace(0, 1, keyDim/2),
    /// each angle repeated twice.
    /// </summary>
    public static (float[] LogDecay, float[] Angle) Tables(int heads, int keyDim)
    {
        using var scope = NewDisposeScope();
        var decay = (1 - full(heads, 2.0f).pow(-5 - arange(heads, ScalarType.Float32))).log();
        var exponents = linspace(0, 1, keyDim / 2, ScalarType.Float32);
        var theta = full_like(exponents, 10000.0f).pow(exponents).reciprocal();
        var repeated = theta.unsqueeze(-1).repeat(1, 2).flatten();
        return (decay.data<float>().ToArray(), repeated.data<float>().ToArray());
    }

        public override (Tensor Output, MixerState? Final) Forward(Tensor x, MixerState? initial = null, bool returnFinal = false)
    {
        using var scope = NewDisposeScope();
        long batch = x.shape[0], time = x.shape[1];
        var state = MixerState.As<RetentionState>(initial, "retention");
        long start = state?.Position ?? 0;
        var (q, k, v, g) = Project(x, start);

        Tensor o, u; // o [batch, heads, time, valueDim]; u = U after the last token (null when not needed)
        if (state is null && Form == RetentionForm.Parallel)
        {
            o = Parallel(q, k, v);
            u = returnFinal ? DecayedSum(k, v) : null!;
        }
        else
        {
            var u0 = state is null ? zeros(batch, heads, keyDim, valueDim, x.dtype, x.device) : state.Kv * state.Scale.sqrt().view(heads, 1, 1);
            (o, u) = Chunkwise(q, k, v, u0, chunkSize ?? (int)time);
        }
        var output = Finish(o.transpose(1, 2), g); // [batch, time, heads, valueDim] → [batch, time, dim]

        if (state is not null || returnFinal)
        {
            var s0 = state?.Scale ?? zeros(heads, x.dtype, x.device);
            var (gammaT, sumT) = DecaySums(time, x.dtype, x.device);
            var s = s0 * gammaT + sumT;                  // s after `time` more tokens: s·γ^T + Σ_{m<T} γᵐ
            var kv = u / s.sqrt().view(heads, 1, 1);
            if (state is null) state = new RetentionState(kv.MoveToOuterDisposeScope(), s.MoveToOuterDisposeScope(), time);
            else state.Update(kv.MoveToOuterDisposeScope(), s.MoveToOuterDisposeScope(), start + time);
        }
        return (output.MoveToOuterDisposeScope(), returnFinal ? state : null);
    }

    /// <summary>
    /// torchscale recurrent_forward: s' = s·γ + 1; Kv' = Kv·√s·γ/√s' + k vᵀ/√s'; o = q·Kv'. (At position 0, s = 0 and Kv = 0 give
    /// the official first step, s' = 1 and Kv' = k vᵀ.)
    /// </summary>
    public override Tensor Step(Tensor x, MixerState state)
    {
        using var scope = NewDisposeScope();
        var st = MixerState.Require<RetentionState>(state, "retention");
        var (q, k, v, g) = Project(x.unsqueeze(1), st.Position); // q, k [batch, heads, 1, keyDim]; v [batch, heads, 1, valueDim]
        var gamma = LogDecay(x.dtype, x.device).exp();
        var s = st.Scale * gamma + 1;
        var carry = (st.Scale.sqrt() * gamma / s.sqrt()).view(heads, 1, 1);
        var kv = st.Kv * carry + k.transpose(2, 3).matmul(v) / s.sqrt().view(heads, 1, 1);
        var o = q.matmul(kv); // [batch, heads, 1, valueDim]
        var output = Finish(o.transpose(1, 2), g).squeeze(1);
        st.Update(kv.MoveToOuterDisposeScope(), s.MoveToOuterDisposeScope(), st.Position + 1);
        return output.MoveToOuterDisposeScope();
    }

    public ILeanLayer ToLean(LeanBuilder b) => new LeanRetention(b.Matrix(q_proj), b.Matrix(k_proj), b.Matrix(v_proj), b.Matrix(g_proj),
        b.Matrix(out_proj), heads, keyDim, valueDim, (float)scaling, (float)eps, logDecay, angle);

    public override MixerState AllocateState(long batch, long maxLength, ScalarType dtype, Device device) =>
        new RetentionState(batch, heads, keyDim, valueDim, dtype, device);

    public override long StateBytes(long batch, long length, ScalarType dtype) =>
        (batch * heads * keyDim * valueDim + heads) * ElementSize(dtype);

    /// <summary>
    /// Retention arithmetic per token (all heads) of the form whole-sequence passes use, over a causal window of T tokens.
    /// Parallel: every key up to the token, (T+1)/2 on average, costs 2·keyDim (q·k) + 2·valueDim (score·v) + ≈4 (decay
    /// mask and row normalisation). Chunkwise with chunks of C: the same for the (C+1)/2 keys inside the chunk, plus
    /// 2·keyDim·valueDim to read the cross-chunk state and 2·keyDim·valueDim to add the token to it. (The recurrent form,
    /// used for decoding, costs 4·keyDim·valueDim per token and head, independent of T.)
    /// </summary>
    public override long NonParameterFlopsPerToken(long contextLength)
    {
        long perKey = 2L * (keyDim + valueDim) + 4;
        if (Form == RetentionForm.Parallel) return heads * perKey * (contextLength + 1) / 2;
        long chunk = Math.Min(chunkSize ?? contextLength, contextLength);
        return heads * (perKey * (chunk + 1) / 2 + 4L * keyDim * valueDim);
    }

    // ---- the pieces -----------------------------------------------------------------------------------------

    /// <summary>q, k [batch, heads, time, keyDim] rotated for absolute positions start…; v [batch, heads, time, valueDim]; g [batch, time, heads·valueDim].</summary>
    (Tensor Q, Tensor K, Tensor V, Tensor G) Project(Tensor x, long start)
    {
        long batch = x.shape[0], time = x.shape[1];
        var q = q_proj.call(x);
        var k = k_proj.call(x) * scaling;
        var v = v_proj.call(x).view(batch, time, heads, valueDim).transpose(1, 2);
        var g = g_proj.call(x);
        var (sin, cos) = Rotation(start, time, x.dtype, x.device);
        q = ThetaShift(q.view(batch, time, heads, keyDim).transpose(1, 2), sin, cos);
        k = ThetaShift(k.view(batch, time, heads, keyDim).transpose(1, 2), sin, cos);
        return (q, k, v, g);
    }

    /// <summary>sin and cos of n·θ for n = start … start+time−1, [time, keyDim], in the working dtype.</summary>
    (Tensor Sin, Tensor Cos) Rotation(long start, long time, ScalarType dtype, Device device)
    {
        var index = arange(start, start + time, 1, dtype, device);
        var phase = index.unsqueeze(1) * tensor(angle, device: device).to(dtype).unsqueeze(0);
        return (phase.sin(), phase.cos());
    }

    /// <summary>torchscale theta_shift: x·cos + rotate_every_two(x)·sin, rotate_every_two mapping pairs (a, b) → (−b, a).</summary>
    static Tensor ThetaShift(Tensor x, Tensor sin, Tensor cos)
    {
        var pairs = x.view([.. x.shape[..^1], x.shape[^1] / 2, 2]);
        var rotated = stack([-pairs.select(-1, 1), pairs.select(-1, 0)], -1).view(x.shape);
        return x * cos + rotated * sin;
    }

    Tensor LogDecay(ScalarType dtype, Device device) => tensor(logDecay, device: device).to(dtype);

    /// <summary>
    /// Parallel form: D[i, j] = γ^(i−j) (j ≤ i), each row divided by √Σ_j D[i, j]; scores (q·kᵀ)⊙D, each row divided by
    /// clamp(Σ_j |score|, 1, 5·10⁴) (a constant, not differentiated); o = scores·v.
    /// </summary>
    Tensor Parallel(Tensor q, Tensor k, Tensor v)
    {
        long time = q.shape[2];
        var mask = DecayMask(time, q.dtype, q.device);
        mask = mask / mask.sum(-1, keepdim: true).sqrt();
        var scores = q.matmul(k.transpose(-1, -2)) * mask;
        scores = scores / scores.detach().abs().sum(-1, keepdim: true).clamp(1, 5e4);
        return scores.matmul(v);
    }

    /// <summary>γ_h^(i−j) for j ≤ i, else 0: [heads, n, n].</summary>
    Tensor DecayMask(long n, ScalarType dtype, Device device)
    {
        var index = arange(n, dtype, device);
        var distance = index.unsqueeze(1) - index.unsqueeze(0);
        distance = distance.masked_fill(distance.lt(0), double.PositiveInfinity); // exp(∞·log γ) = 0 above the diagonal
        return (distance.unsqueeze(0) * LogDecay(dtype, device).view(heads, 1, 1)).exp();
    }

    /// <summary>U = Σ_j γ^(T−1−j) k_j v_jᵀ over the whole sequence: [batch, heads, keyDim, valueDim].</summary>
    Tensor DecayedSum(Tensor k, Tensor v)
    {
        long time = k.shape[2];
        var age = arange(time - 1, -1, -1, k.dtype, k.device);
        var weights = (LogDecay(k.dtype, k.device).view(heads, 1) * age).exp(); // [heads, time]
        return k.transpose(-1, -2).matmul(v * weights.unsqueeze(-1));
    }

    /// <summary>(γ^T, Σ_{m&lt;T} γᵐ) per head.</summary>
    (Tensor GammaT, Tensor Sum) DecaySums(long time, ScalarType dtype, Device device)
    {
        var logGamma = LogDecay(dtype, device);
        var powers = (logGamma.unsqueeze(1) * arange(time, dtype, device)).exp();
        return ((logGamma * time).exp(), powers.sum(1));
    }

    /// <summary>
    /// Chunkwise form (torchscale chunk_recurrent_forward), chunks of C tokens from the first token of x, the last one
    /// possibly shorter (the official code pads it; padding after a row never changes that row). With U the decayed sum
    /// of all keys before the chunk, S = Σ_{m&lt;C} γᵐ, and r_i = √Σ_{m≤i} γᵐ for row i of the chunk:
    ///   inner_i = Σ_{j≤i in chunk} γ^(i−j) (q_i·k_j) v_j / r_i,     a_i = max(1, Σ_j |γ^(i−j) q_i·k_j| / r_i),
    ///   cross_i = γ^(i+1) q_i·U / r_i,                                b   = max(1, max over value columns of Σ_keyDim |U/S|),
    ///   o_i = (inner_i + cross_i) / max(a_i, b)   (a_i and b are constants, not differentiated);
    /// then U ← γ^L U + Σ_j γ^(L−1−j) k_j v_jᵀ for a chunk of L tokens.
    /// </summary>
    (Tensor O, Tensor U) Chunkwise(Tensor q, Tensor k, Tensor v, Tensor u, int chunk)
    {
        long time = q.shape[2];
        var logGamma = LogDecay(q.dtype, q.device).view(heads, 1, 1);
        var fullMask = DecayMask(chunk, q.dtype, q.device);                       // [heads, C, C]
        var rowNorm = fullMask.sum(-1, keepdim: true).sqrt();                      // r_i [heads, C, 1]
        var chunkSum = fullMask.select(1, chunk - 1).sum(-1).view(heads, 1, 1);    // S
        var outputs = new List<Tensor>();
        for (long a = 0; a < time; a += chunk)
        {
            long n = Math.Min(chunk, time - a);
            var qc = q.narrow(2, a, n);
            var kc = k.narrow(2, a, n);
            var vc = v.narrow(2, a, n);
            var mask = fullMask.narrow(1, 0, n).narrow(2, 0, n) / rowNorm.narrow(1, 0, n);
            var scores = qc.matmul(kc.transpose(-1, -2)) * mask;
            var innerScale = scores.detach().abs().sum(-1, keepdim: true).clamp_min(1);
            var crossScale = (u / chunkSum).detach().abs().sum(-2, keepdim: true).amax([-1], keepdim: true).clamp_min(1);
            var queryDecay = (logGamma * arange(1, n + 1, q.dtype, q.device).view(1, n, 1)).exp() / rowNorm.narrow(1, 0, n);
            var cross = (qc * queryDecay).matmul(u);
            outputs.Add((scores.matmul(vc) + cross) / maximum(innerScale, crossScale));
            var age = arange(n - 1, -1, -1, q.dtype, q.device).view(1, n, 1);
            u = u * (logGamma * n).exp() + kc.transpose(-1, -2).matmul(vc * (logGamma * age).exp());
        }
        return (cat(outputs, 2), u);
    }

    /// <summary>Group norm (RMS over each head's values, no affine, at least float32), swish gate, output projection. o: [batch, time, heads, valueDim].</summary>
    Tensor Finish(Tensor o, Tensor g)
    {
        long batch = o.shape[0], time = o.shape[1];
        var of = o.dtype is ScalarType.BFloat16 or ScalarType.Float16 ? o.to(ScalarType.Float32) : o;
        var normed = (of * rsqrt(of.pow(2).mean([-1], keepdim: true) + eps)).to(o.dtype);
        var gated = nn.functional.silu(g) * normed.reshape(batch, time, heads * valueDim);
        return out_proj.call(gated);
    }
}

/// <summary>How <see cref="Retention"/> runs a whole sequence from an empty state.</summary>
public enum RetentionForm
{
    /// <summary>Every pair of positions at once (paper eq. 5): memory grows as T².</summary>
    Parallel,
    /// <summary>Chunks of retention_chunk_size tokens (eq. 7), a state carried between chunks.</summary>
    Chunkwise,
}
