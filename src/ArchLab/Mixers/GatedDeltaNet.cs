using ArchLab.Engine;
using ArchLab.Engine.Layers;
using ArchLab.Kernels;
using ArchLab.Kernels.Gpu;
using ArchLab.Kernels.Reference;
using ArchLab.Models;
using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace ArchLab.Mixers;

/// <summary>Which tensor-op form of the gated delta rule a <see cref="GatedDeltaNet"/> uses for whole sequences (the reference
/// and cpu scan backends; the ilgpu backend runs <see cref="IlgpuGatedDeltaRuleFunction"/> whatever the form).</summary>
public enum GatedDeltaRuleForm
{
    /// <summary>The chunkwise WY form (<see cref="GatedDeltaRuleReference.Chunked"/>): matmuls per chunk, for training.</summary>
    Chunked,
    /// <summary>Token by token (<see cref="GatedDeltaRuleReference.Recurrent"/>): fla's fused_recurrent path.</summary>
    Recurrent,
}

/// <summary>
/// Gated DeltaNet token mixer (Yang, Kautz &amp; Hatamizadeh 2024, "Gated Delta Networks: Improving Mamba2 with Delta
/// Rule"; flash-linear-attention <c>fla/layers/gated_deltanet.py</c>). H query/key heads of size K, HV value heads of size
/// V = expand_v·K (HV a multiple of H: value head i reads query/key head i / (HV/H), "grouped value attention"):
/// <code>
///   q, k, v = SiLU(short causal conv(q_proj x, k_proj x, v_proj x))     (or SiLU of the projections without convs)
///   q, k    = q / √(Σq² + 1e−6), k / √(Σk² + 1e−6)                     per head (the kernel's L2 norm), q ·= K^−½
///   g       = −exp(A_log) · softplus(a_proj x + dt_bias)                 log decay per value head, α = exp(g) ∈ (0, 1)
///   β       = sigmoid(b_proj x)   (× 2 with allow_neg_eigval)
///   S_t     = α_t S_{t−1} (I − β_t k_t k_tᵀ) + β_t k_t v_tᵀ,   o_t = S_tᵀ q_t          (<see cref="GatedDeltaRuleReference"/>)
///   out     = o_proj(RMSNorm(o) ⊙ SiLU(g_proj x))                        per value head (plain RMSNorm without the gate)
/// </code>
/// Blocks around it are the LLaMA-style pre-norm blocks with a SwiGLU MLP (fla's GatedDeltaNetBlock with GatedMLP).
/// Whole sequences run the tensor-op <see cref="Form"/> (matmul-shaped chunks: the reference and cpu scan backends) or, with
/// the ilgpu backend (or auto on CUDA tensors when ILGPU has CUDA), the ILGPU kernel; single steps run the recurrence.
/// </summary>
public sealed class GatedDeltaNet : Mixer, ILeanConvertible
{
    public readonly Projection q_proj, k_proj, v_proj, a_proj, b_proj, o_proj;
    public readonly Projection? g_proj;
    public readonly Conv1d? q_conv1d, k_conv1d, v_conv1d;
    /// <summary>log of the decay rate A per value head [HV]: g = −exp(A_log)·softplus(…).</summary>
    public readonly Parameter A_log;
    /// <summary>Bias inside the softplus of the decay [HV].</summary>
    public readonly Parameter dt_bias;
    /// <summary>The output norm over each value head (gated by SiLU(g_proj x) when the layer has the output gate).</summary>
    public readonly RmsNorm o_norm;

    readonly int heads, valueHeads, keyDim, valueDim, kernel;
    readonly bool negativeEigenvalues;

    /// <summary>The form whole sequences go through (the chunked one unless a test or a study asks otherwise).</summary>
    public GatedDeltaRuleForm Form { get; set; } = GatedDeltaRuleForm.Chunked;

    /// <summary>Chunk length of the chunked form (config delta_chunk_size, default 64).</summary>
    public int ChunkSize { get; set; }

    // Initial Δ range of the decay (fla's hard-coded dt_min, dt_max, dt_init_floor) and A's range U(0, 16).
    const double DtMin = 1e-3, DtMax = 1e-1, DtInitFloor = 1e-4, AMax = 16;
    /// <summary>The eps inside the kernel's L2 norm of q and k (fla l2norm_fwd).</summary>
    const double L2NormEps = 1e-6;

    /// <summary>Gated DeltaNet's blocks: RMSNorm and a SwiGLU MLP (fla's GatedDeltaNetBlock with GatedMLP); fla's init,
    /// N(0, 0.02) everywhere, not GPT-2's output std; imports fla's GatedDeltaNetForCausalLM checkpoints.</summary>
    public static readonly MixerSpec Spec = new("gated_deltanet", (config, _, _) => new GatedDeltaNet(config))
    {
        DefaultNorm = "rmsnorm",
        DefaultMlp = "swiglu",
        TrainingForms = [new("chunked", (config, _) => config)],
        UsesScanBackend = true,
        Importer = new Checkpoints.Importers.GatedDeltaNetImporter(),
        ValidateConfig = Validate,
        ParameterCount = ParameterCount,
        StateElements = StateElements,
    };

    public GatedDeltaNet(ModelConfig config) : base(nameof(GatedDeltaNet))
    {
        Validate(config);
        int dim = config.Dim;
        heads = config.Heads;
        valueHeads = ValueHeadCount(config);
        keyDim = KeyDim(config);
        valueDim = ValueDim(config);
        kernel = config.Ssm.ConvKernel;
        negativeEigenvalues = config.NegativeEigenvalues ?? false;
        ChunkSize = config.DeltaChunkSize ?? 64;

        q_proj = new Projection(dim, heads * keyDim);
        k_proj = new Projection(dim, heads * keyDim);
        v_proj = new Projection(dim, valueHeads * valueDim);
        a_proj = new Projection(dim, valueHeads);
        b_proj = new Projection(dim, valueHeads);
        if (config.OutputGate ?? true) g_proj = new Projection(dim, valueHeads * valueDim);
        o_proj = new Projection(valueHeads * valueDim, dim);
        if (config.ShortConv ?? true)
        {
            q_conv1d = DepthwiseConv(heads * keyDim);
            k_conv1d = DepthwiseConv(heads * keyDim);
            v_conv1d = DepthwiseConv(valueHeads * valueDim);
        }
        A_log = new Parameter(zeros(valueHeads));
        dt_bias = new Parameter(zeros(valueHeads));
        o_norm = new RmsNorm(valueDim, config.NormEps);
        InitLikeOfficial();
        RegisterComponents();
    }

    Conv1d DepthwiseConv(long channels) => nn.Conv1d(channels, channels, kernel, groups: channels, bias: false);

    /// <summary>
    /// fla's GatedDeltaNetPreTrainedModel._init_weights: every Linear and the convs N(0, 0.02) (initializer_range; the
    /// projections start that way already), A = U(0, 16) stored as its log, dt_bias = softplus⁻¹(Δ) with Δ log-uniform in
    /// [1e−3, 1e−1] (floored at 1e−4), so softplus(dt_bias) starts in that range; the output norm's weight 1.
    /// </summary>
    void InitLikeOfficial()
    {
        using var noGrad = no_grad();
        foreach (var conv in new[] { q_conv1d, k_conv1d, v_conv1d })
            if (conv is not null) nn.init.normal_(conv.weight!, 0.0, 0.02);
        A_log.copy_(empty(valueHeads).uniform_(0, AMax).log());
        using var dt = exp(rand(valueHeads) * (Math.Log(DtMax) - Math.Log(DtMin)) + Math.Log(DtMin)).clamp_min(DtInitFloor);
        dt_bias.copy_(dt + log(-expm1(-dt)));
    }

    /// <summary>The engine twin (<see cref="LeanGatedDeltaNet"/>): the step in float32 arrays.</summary>
    public ILeanLayer ToLean(LeanBuilder b)
    {
        using var scope = NewDisposeScope();
        float[]? conv = q_conv1d is null ? null
            : LeanBuilder.Vector(cat([q_conv1d.weight!, k_conv1d!.weight!, v_conv1d!.weight!], 0));
        return new LeanGatedDeltaNet(b.Matrix(q_proj), b.Matrix(k_proj), b.Matrix(v_proj), b.Matrix(a_proj), b.Matrix(b_proj),
            g_proj is null ? null : b.Matrix(g_proj), b.Matrix(o_proj), conv, LeanBuilder.Vector(-A_log.exp()), LeanBuilder.Vector(dt_bias),
            LeanBuilder.Vector(o_norm.weight),
            new LeanGatedDeltaNetShape(heads, valueHeads, keyDim, valueDim, kernel, (float)o_norm.Eps, negativeEigenvalues, g_proj is not null));
    }

    /// <summary>Query/key head size: key_head_dim, else dim / heads.</summary>
    public static int KeyDim(ModelConfig config) => config.KeyHeadDim ?? config.Dim / config.Heads;
    public static int ValueHeadCount(ModelConfig config) => config.ValueHeads ?? config.Heads;
    /// <summary>Value head size: value_expand · key head size (it must come out whole, as fla checks).</summary>
    public static int ValueDim(ModelConfig config) => (int)Math.Round((config.ValueExpand ?? 2) * KeyDim(config));

    /// <summary>Throws <see cref="ConfigException"/> naming the Gated DeltaNet field that makes no sense.</summary>
    public static void Validate(ModelConfig config)
    {
        int keyDim = KeyDim(config);
        if (keyDim <= 0 || keyDim > ModelLimits.Width)
            throw new ConfigException($"model config: Gated DeltaNet key head size {keyDim} ('key_head_dim' or dim/heads) must be in 1..{ModelLimits.Width}");
        double expand = config.ValueExpand ?? 2;
        if (!(expand > 0 && double.IsFinite(expand)) || Math.Abs(expand * keyDim - Math.Round(expand * keyDim)) > 1e-5 * expand * keyDim
            || Math.Round(expand * keyDim) < 1 || Math.Round(expand * keyDim) > ModelLimits.Width)
            throw new ConfigException($"model config: 'value_expand' {expand} times the key head size {keyDim} must be a whole number in 1..{ModelLimits.Width}");
        int valueHeads = ValueHeadCount(config);
        if (valueHeads <= 0 || valueHeads > ModelLimits.Width || valueHeads % config.Heads != 0)
            throw new ConfigException($"model config: 'value_heads' ({valueHeads}) must be a positive multiple of 'heads' ({config.Heads})");
        if (config.DeltaChunkSize is int chunk && (chunk <= 0 || chunk > ModelLimits.ContextLength))
            throw new ConfigException($"model config: 'delta_chunk_size' must be in 1..{ModelLimits.ContextLength}, got {chunk}");
        if ((config.ShortConv ?? true) && config.ConvBias == true)
            throw new ConfigException("model config: 'conv_bias' true: Gated DeltaNet's short convolutions have no bias");
    }

    public int Heads => heads;
    public int ValueHeads => valueHeads;
    public int KeyHeadDim => keyDim;
    public int ValueHeadDim => valueDim;
    int ConvChannels => 2 * heads * keyDim + valueHeads * valueDim;

    /// <summary>x [batch, time, dim] → [batch, time, dim], continuing from <paramref name="initial"/> (a <see cref="GatedDeltaNetState"/>).</summary>
    public override (Tensor Output, MixerState? Final) Forward(Tensor x, MixerState? initial = null, bool returnFinal = false)
    {
        var state = AsState(initial);
        using var scope = NewDisposeScope();
        long batch = x.shape[0], time = x.shape[1];
        var (qkv, convTail) = ShortConvolutions(x, state?.Conv);                          // [B, T, channels]
        var (q, k, v) = SplitHeads(qkv, batch, time);                                     // [B, HV, T, ·]
        var (g, beta) = GateAndBeta(x);                                                   // [B, T, HV]
        var s0 = state?.Recurrent ?? zeros(batch, valueHeads, keyDim, valueDim, dtype: x.dtype, device: x.device);
        var (gh, bh) = (g.transpose(1, 2), beta.transpose(1, 2));
        var (o, sLast) = ScanBackends.UsesIlgpu(Backend, q, "gated delta rule")
            ? IlgpuGatedDeltaRuleFunction.Forward(q, k, v, gh, bh, s0)
            : Form == GatedDeltaRuleForm.Chunked
                ? GatedDeltaRuleReference.Chunked(q, k, v, gh, bh, s0, ChunkSize)
                : GatedDeltaRuleReference.Recurrent(q, k, v, gh, bh, s0);
        var output = Output(o.transpose(1, 2), x);

        GatedDeltaNetState? final = null;
        if (returnFinal)
        {
            if (state is null) final = new GatedDeltaNetState(convTail, sLast, time);
            else { state.Advance(convTail, sLast, time); final = state; }
        }
        return (output.MoveToOuterDisposeScope(), final);
    }

    /// <summary>One token x [batch, dim] → [batch, dim]: the conv window rolls by one, one state update.</summary>
    public override Tensor Step(Tensor x, MixerState state)
    {
        var s = AsState(state) ?? throw new ArgumentNullException(nameof(state));
        using var scope = NewDisposeScope();
        var (qkv, convTail) = ShortConvolutions(x.unsqueeze(1), s.Conv);
        var (q, k, v) = SplitHeads(qkv, x.shape[0], 1);
        var (g, beta) = GateAndBeta(x);                                                   // [B, HV]
        var (o, next) = GatedDeltaRuleReference.Step(q.squeeze(2), k.squeeze(2), v.squeeze(2), g, beta, s.Recurrent);
        var output = Output(o.unsqueeze(1), x.unsqueeze(1)).squeeze(1);
        s.Advance(convTail, next, 1);
        return output.MoveToOuterDisposeScope();
    }

    /// <summary>
    /// q, k, v projections through their depthwise causal convolutions and SiLU, as one tensor [B, T, 2·H·K + HV·V]:
    /// the previous conv − 1 inputs (zeros at the start) followed by this chunk, no padding, give one output per token.
    /// Returns the last conv − 1 inputs for the next call (null without convolutions).
    /// </summary>
    (Tensor Qkv, Tensor? Tail) ShortConvolutions(Tensor x, Tensor? history)
    {
        var projected = cat([q_proj.call(x), k_proj.call(x), v_proj.call(x)], -1);      // [B, T, channels]
        if (q_conv1d is null) return (nn.functional.silu(projected), null);
        var weight = cat([q_conv1d.weight!, k_conv1d!.weight!, v_conv1d!.weight!], 0);   // [channels, 1, W]
        var (y, tail) = CausalConvolution.Forward(projected, weight, null, history);
        return (nn.functional.silu(y), tail);
    }

    /// <summary>Splits q, k, v into heads, L2-normalises q and k (x / √(Σx² + 1e−6), the kernel's form), scales q by K^−½
    /// and repeats each query/key head for its group of value heads: [B, HV, T, K], [B, HV, T, K], [B, HV, T, V].</summary>
    (Tensor Q, Tensor K, Tensor V) SplitHeads(Tensor qkv, long batch, long time)
    {
        long qk = heads * keyDim;
        Tensor Split(Tensor t, long n, long size) => t.reshape(batch, time, n, size);
        var q = L2Normalize(Split(qkv.narrow(-1, 0, qk), heads, keyDim)) * Math.Pow(keyDim, -0.5);
        var k = L2Normalize(Split(qkv.narrow(-1, qk, qk), heads, keyDim));
        var v = Split(qkv.narrow(-1, 2 * qk, valueHeads * valueDim), valueHeads, valueDim);
        if (valueHeads != heads)
        {
            q = q.repeat_interleave(valueHeads / heads, dim: 2);
            k = k.repeat_interleave(valueHeads / heads, dim: 2);
        }
        return (q.transpose(1, 2), k.transpose(1, 2), v.transpose(1, 2));
    }

    static Tensor L2Normalize(Tensor x) => x * rsqrt(x.square().sum(-1, keepdim: true) + L2NormEps);

    /// <summary>Per value head: the log decay g = −exp(A_log)·softplus(a_proj x + dt_bias) and β = sigmoid(b_proj x) (×2
    /// with negative eigenvalues). Shapes [..., HV].</summary>
    (Tensor G, Tensor Beta) GateAndBeta(Tensor x)
    {
        var g = -A_log.exp() * nn.functional.softplus(a_proj.call(x) + dt_bias);
        var beta = sigmoid(b_proj.call(x));
        return (g, negativeEigenvalues ? beta * 2.0 : beta);
    }

    /// <summary>o [B, T, HV, V] → the output norm per value head (gated by SiLU(g_proj x)) → o_proj: [B, T, dim].</summary>
    Tensor Output(Tensor o, Tensor x)
    {
        long batch = o.shape[0], time = o.shape[1];
        var normed = o_norm.call(o);
        if (g_proj is not null) normed = normed * nn.functional.silu(g_proj.call(x).reshape(batch, time, valueHeads, valueDim));
        return o_proj.call(normed.reshape(batch, time, valueHeads * valueDim));
    }

    GatedDeltaNetState? AsState(MixerState? state) => state switch
    {
        null => null,
        GatedDeltaNetState s when s.Recurrent.shape[1] == valueHeads && s.Recurrent.shape[2] == keyDim && s.Recurrent.shape[3] == valueDim
                                  && (q_conv1d is null ? s.Conv is null : s.Conv is { } c && c.shape[1] == ConvChannels && c.shape[2] == kernel - 1) => s,
        GatedDeltaNetState s => throw new ArgumentException(
            $"Gated DeltaNet state has conv {GatedDeltaNetState.Shape(s.Conv)} and recurrent {GatedDeltaNetState.Shape(s.Recurrent)}, this layer needs " +
            (q_conv1d is null ? "no conv" : $"conv [batch, {ConvChannels}, {kernel - 1}]") + $" and recurrent [batch, {valueHeads}, {keyDim}, {valueDim}]"),
        _ => throw new ArgumentException($"Gated DeltaNet needs a GatedDeltaNetState, got {state.GetType().Name}"),
    };

    public override MixerState AllocateState(long batch, long maxLength, ScalarType dtype, Device device) =>
        new GatedDeltaNetState(q_conv1d is null ? null : zeros(batch, ConvChannels, kernel - 1, dtype: dtype, device: device),
                               zeros(batch, valueHeads, keyDim, valueDim, dtype: dtype, device: device));

    /// <summary>Conv windows and the delta-rule state: batch · ((conv − 1)·channels + HV·K·V) values, whatever the length.</summary>
    public override long StateBytes(long batch, long length, ScalarType dtype) =>
        batch * ((q_conv1d is null ? 0L : (long)ConvChannels * (kernel - 1)) + (long)valueHeads * keyDim * valueDim) * ElementSize(dtype);

    /// <summary>State elements per sequence for a config (conv windows and S), without building the layer.</summary>
    public static double StateElements(ModelConfig config)
    {
        double channels = 2.0 * config.Heads * KeyDim(config) + (double)ValueHeadCount(config) * ValueDim(config);
        return ((config.ShortConv ?? true) ? channels * (config.Ssm.ConvKernel - 1) : 0) + (double)ValueHeadCount(config) * KeyDim(config) * ValueDim(config);
    }

    /// <summary>Parameters of one layer for a config, without building it.</summary>
    public static double ParameterCount(ModelConfig config, int layer = 0)
    {
        double dim = config.Dim, qk = (double)config.Heads * KeyDim(config), hv = ValueHeadCount(config), values = hv * ValueDim(config);
        return dim * (2 * qk + values + 2 * hv) + ((config.OutputGate ?? true) ? dim * values : 0) + values * dim
               + ((config.ShortConv ?? true) ? (2 * qk + values) * config.Ssm.ConvKernel : 0) + 2 * hv + ValueDim(config);
    }

    /// <summary>
    /// The recurrence's arithmetic per token (projections and conv taps are parameter work, counted by the model): per value
    /// head, the decay of S (K·V), Sᵀk (2·K·V), the rank-one update (2·K·V) and Sᵀq (2·K·V), 7·K·V; the two L2 norms
    /// (3·K per query/key head each), the gate and β (about 6 per value head), the output norm and gate (about 6·V per value
    /// head) and the SiLUs after the convs (one per channel). The chunked form does more work per token (the in-chunk
    /// matrices); this counts the recurrence. Independent of the context length.
    /// </summary>
    public override long NonParameterFlopsPerToken(long contextLength) =>
        7L * valueHeads * keyDim * valueDim + 6L * heads * keyDim + 6L * valueHeads + 6L * valueHeads * valueDim + ConvChannels;
}
