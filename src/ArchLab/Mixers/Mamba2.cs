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

/// <summary>
/// Mamba-2 mixer (Dao &amp; Gu 2024, "Transformers are SSMs: Generalized Models and Efficient Algorithms Through
/// Structured State Space Duality"; state-spaces/mamba <c>modules/mamba2.Mamba2</c>). With E = inner width, H heads of
/// P channels (E = H·P), G groups, N = state size:
/// <code>
///   [z, xBC, dt] = in_proj(u)                   z ∈ ℝ^E, xBC ∈ ℝ^{E + 2GN}, dt ∈ ℝ^H (one Δ per head)
///   [x, B, C] = SiLU(causal depthwise conv(xBC)) x ∈ ℝ^{H×P}; B, C ∈ ℝ^{G×N}, head h reads group ⌊h / (H/G)⌋
///   Δ      = softplus(dt + dt_bias)
///   S_t    = exp(Δ_t A) S_{t−1} + (Δ_t x_t) B_tᵀ    per head: A = −exp(A_log) is one scalar (A = a·I), S ∈ ℝ^{P×N}
///   y_t    = S_t C_t + D x_t                     D: one scalar per head
///   out    = out_proj(GatedRMSNorm(y, z))        norm(y · SiLU(z)) per group of E/G channels (or norm(y) · SiLU(z))
/// </code>
/// The whole-sequence path is the SSD chunked form (<see cref="SsdReference.Chunked"/>: matmuls, the reference and cpu
/// scan backends) or, with the ilgpu backend (or auto on CUDA tensors when ILGPU has CUDA), the ILGPU scan
/// (<see cref="IlgpuSsdFunction"/>); the step is the recurrence (<see cref="SsdReference.Step"/>) on every backend. All
/// start from an explicit state and return the final one.
/// Blocks around it are RMSNorm → Mamba-2 → residual with no MLP (the official Mamba-2 language models).
/// </summary>
public sealed class Mamba2 : Mixer, ILeanConvertible
{
    public readonly Projection in_proj, out_proj;
    public readonly Conv1d conv1d;
    /// <summary>softplus⁻¹ of each head's initial Δ [heads].</summary>
    public readonly Parameter dt_bias;
    /// <summary>log(−A) [heads]: one decay rate per head.</summary>
    public readonly Parameter A_log;
    /// <summary>Skip connection weight per head [heads].</summary>
    public readonly Parameter D;
    public readonly GatedRmsNorm norm;

    readonly int dim, inner, heads, headDim, groups, stateSize, kernel, chunk, convChannels;

    // Initialisation ranges: the official defaults A_init_range, dt_min, dt_max, dt_init_floor.
    const double AInitMin = 1, AInitMax = 16, DtMin = 1e-3, DtMax = 1e-1, DtInitFloor = 1e-4;

    /// <summary>The gated norm's epsilon: Mamba2.__init__ fixes it at 1e-5 whatever the model's norm epsilon.</summary>
    public const double NormEps = 1e-5;

    /// <summary>Mamba-2's blocks: RMSNorm and no MLP (the official Mamba-2 language models); imports state-spaces/mamba
    /// checkpoints whose ssm_cfg layer is Mamba2.</summary>
    public static readonly MixerSpec Spec = new("mamba2", (config, _, _) => new Mamba2(config)) // official init, not the GPT-2 output std
    {
        DefaultNorm = "rmsnorm",
        DefaultMlp = "none",
        TrainingForms = [new("ssd-chunked", (config, _) => config)],
        UsesScanBackend = true,
        Importer = new Checkpoints.Importers.Mamba2Importer(),
        ValidateConfig = Validate,
        ParameterCount = ParameterCount,
        StateElements = config =>
        {
            double width = Math.Floor((config.Expand ?? 2) * config.Dim), bc = 2.0 * (config.SsmGroups ?? 1) * (config.DState ?? 128);
            return (width + bc) * (config.Ssm.ConvKernel - 1) + width * (config.DState ?? 128); // conv window over x, B, C; SSM state
        },
    };

    /// <summary>Channels per SSD head: the config's, else the official 64, or the whole inner width when that is narrower
    /// (small test and sweep shapes; the official code would refuse them).</summary>
    public static int HeadDimOf(ModelConfig config) => config.SsmHeadDim ?? Math.Min(64, Math.Max(1, config.Ssm.InnerDim));

    static double ParameterCount(ModelConfig config, int layer)
    {
        double dim = config.Dim, width = Math.Floor((config.Expand ?? 2) * dim), heads = width / HeadDimOf(config);
        double bc = 2.0 * (config.SsmGroups ?? 1) * (config.DState ?? 128), into = 2 * width + bc + heads;
        bool biases = config.ProjBias ?? false;
        return dim * into + (biases ? into : 0)                                               // in_proj
               + (width + bc) * config.Ssm.ConvKernel + (config.ConvBias ?? true ? width + bc : 0)  // conv1d over x, B, C
               + 3 * heads + width                                                            // dt_bias, A_log, D, norm
               + width * dim + (biases ? dim : 0);                                            // out_proj
    }

    /// <summary>The SSM fields plus Mamba-2's own: heads that divide the inner width, groups that divide the heads, a chunk.</summary>
    static void Validate(ModelConfig config)
    {
        config.Ssm.Validate();
        CheckHeads(config);
    }

    /// <summary>Heads that divide the inner width, groups that divide the heads, a positive chunk (the constructor's checks too).</summary>
    static void CheckHeads(ModelConfig config)
    {
        int inner = config.Ssm.InnerDim, headDim = HeadDimOf(config), groups = config.SsmGroups ?? 1;
        if (headDim <= 0 || inner % headDim != 0)
            throw new ConfigException($"model config: 'ssm_head_dim' ({headDim}) must be positive and divide the inner width expand·dim = {inner}");
        if (groups <= 0 || inner / headDim % groups != 0)
            throw new ConfigException($"model config: 'ssm_groups' ({groups}) must be positive and divide the number of heads ({inner / headDim} = {inner} / {headDim})");
        if (config.SsmChunkSize is int chunk && chunk <= 0) throw new ConfigException($"model config: 'ssm_chunk_size' must be positive, got {chunk}");
    }

    public Mamba2(ModelConfig config) : base(nameof(Mamba2))
    {
        dim = config.Dim;
        inner = config.Ssm.InnerDim;
        headDim = HeadDimOf(config);
        groups = config.SsmGroups ?? 1;
        stateSize = config.DState ?? 128;
        kernel = config.Ssm.ConvKernel;
        chunk = config.SsmChunkSize ?? 64;
        CheckHeads(config);
        heads = inner / headDim;
        convChannels = inner + 2 * groups * stateSize;
        bool projBias = config.ProjBias ?? false;

        in_proj = new Projection(dim, 2 * inner + 2 * groups * stateSize + heads, hasBias: projBias);
        conv1d = nn.Conv1d(convChannels, convChannels, kernel, groups: convChannels, bias: config.ConvBias ?? true);
        dt_bias = new Parameter(zeros(heads));
        A_log = new Parameter(zeros(heads));
        D = new Parameter(ones(heads));
        norm = new GatedRmsNorm(inner, groups, config.NormBeforeGate ?? false);
        out_proj = new Projection(inner, dim, hasBias: projBias);
        InitLikeOfficial(config.Layers, config.Mlp is null or "none" ? 1 : 2);
        RegisterComponents();
    }

    /// <summary>
    /// The official initialisation (Mamba2.__init__ and mixer_seq_simple._init_weights): in_proj keeps PyTorch's Linear
    /// default U(±1/√fan_in) with zero bias; out_proj the same divided by √(residual branches per layer · n_layer);
    /// the conv keeps PyTorch's Conv1d default; dt_bias = softplus⁻¹(Δ) with Δ log-uniform in [dt_min, dt_max] (floored),
    /// A_log = log(U(1, 16)), D = 1, the norm's weight 1.
    /// </summary>
    void InitLikeOfficial(int layers, int residualsPerLayer)
    {
        using var noGrad = no_grad();
        static void Uniform(Tensor w, double bound) => nn.init.uniform_(w, -bound, bound);
        Uniform(in_proj.weight, 1 / Math.Sqrt(dim));
        Uniform(out_proj.weight, 1 / Math.Sqrt(inner) / Math.Sqrt(residualsPerLayer * layers));
        using var dt = exp(rand(heads) * (Math.Log(DtMax) - Math.Log(DtMin)) + Math.Log(DtMin)).clamp_min(DtInitFloor);
        dt_bias.copy_(dt + log(-expm1(-dt))); // softplus(y) = Δ  ⇔  y = Δ + log(1 − e^−Δ)
        using var a = rand(heads) * (AInitMax - AInitMin) + AInitMin;
        A_log.copy_(log(a));
    }

    public int InnerDim => inner;
    public int Heads => heads;
    public int HeadDim => headDim;
    public int Groups => groups;
    public int StateSize => stateSize;
    public int ConvKernel => kernel;
    public int ChunkSize => chunk;
    /// <summary>Channels of the causal conv: x, B and C together (E + 2·G·N).</summary>
    public int ConvChannels => convChannels;

    /// <summary>u [batch, time, dim] → [batch, time, dim] through the chunked SSD form, continuing from
    /// <paramref name="initial"/> (a <see cref="Mamba2State"/>).</summary>
    public override (Tensor Output, MixerState? Final) Forward(Tensor u, MixerState? initial = null, bool returnFinal = false)
    {
        var state = AsState(initial);
        using var scope = NewDisposeScope();
        long batch = u.shape[0], time = u.shape[1];
        var (z, xbc, dtIn) = Split(in_proj.call(u));

        var (conv, convTail) = CausalConvolution.Forward(xbc, conv1d.weight!, conv1d.bias, state?.Conv); // over x, B, C
        var (x, b, c) = ToHeads(nn.functional.silu(conv), [batch, time]);
        var s0 = state?.Ssm ?? zeros(batch, heads, headDim, stateSize, dtype: x.dtype, device: x.device);
        var (y, sLast) = ScanBackends.UsesIlgpu(Backend, x, "ssd")
            ? IlgpuSsdFunction.Forward(x, Delta(dtIn), A(), b, c, s0)
            : SsdReference.Chunked(x, Delta(dtIn), A(), b, c, s0, chunk);
        y = y + D.unsqueeze(-1) * x;
        var output = out_proj.call(norm.call(y.reshape(batch, time, inner), z));

        Mamba2State? final = null;
        if (returnFinal)
        {
            if (state is null) final = new Mamba2State(convTail, sLast, time);
            else { state.Advance(convTail, sLast, time); final = state; }
        }
        return (output.MoveToOuterDisposeScope(), final);
    }

    /// <summary>One token u [batch, dim] → [batch, dim]: roll the conv window, one state update (the official
    /// <c>Mamba2.step</c> with <c>selective_state_update</c>).</summary>
    public override Tensor Step(Tensor u, MixerState state)
    {
        var s = AsState(state) ?? throw new ArgumentNullException(nameof(state));
        using var scope = NewDisposeScope();
        long batch = u.shape[0];
        var (z, xbc, dtIn) = Split(in_proj.call(u));

        var (conv, convTail) = CausalConvolution.Step(xbc, conv1d.weight!, conv1d.bias, s.Conv);
        var (x, b, c) = ToHeads(nn.functional.silu(conv), [batch]);

        var (y, next) = SsdReference.Step(x, Delta(dtIn), A(), b, c, s.Ssm);
        y = y + D.unsqueeze(-1) * x;
        var output = out_proj.call(norm.call(y.reshape(batch, inner), z));

        s.Advance(convTail, next, 1);
        return output.MoveToOuterDisposeScope();
    }

    public ILeanLayer ToLean(LeanBuilder b)
    {
        using var scope = NewDisposeScope();
        return new LeanMamba2(b.Matrix(in_proj), b.Matrix(out_proj), LeanBuilder.Vector(conv1d.weight!),
            conv1d.bias is null ? null : LeanBuilder.Vector(conv1d.bias), LeanBuilder.Vector(dt_bias), LeanBuilder.Vector(A()),
            LeanBuilder.Vector(D), LeanBuilder.Vector(norm.weight), headDim, groups, stateSize, kernel, norm.NormBeforeGate);
    }

    /// <summary>in_proj's output in the official order: z [E], xBC [E + 2GN] (into the conv), dt [H].</summary>
    (Tensor Z, Tensor Xbc, Tensor Dt) Split(Tensor zxbcdt) =>
        (zxbcdt.narrow(-1, 0, inner), zxbcdt.narrow(-1, inner, convChannels), zxbcdt.narrow(-1, inner + convChannels, heads));

    /// <summary>The conv's output as x [.., H, P] and B, C [.., H, N], each head reading its group's B and C.</summary>
    (Tensor X, Tensor B, Tensor C) ToHeads(Tensor conv, long[] lead)
    {
        var x = conv.narrow(-1, 0, inner).reshape([.. lead, heads, headDim]);
        Tensor PerHead(Tensor t) =>
            t.reshape([.. lead, groups, 1, stateSize]).expand([.. lead, groups, heads / groups, stateSize]).reshape([.. lead, heads, stateSize]);
        return (x, PerHead(conv.narrow(-1, inner, groups * stateSize)), PerHead(conv.narrow(-1, inner + groups * stateSize, groups * stateSize)));
    }

    /// <summary>Δ = softplus(dt + dt_bias), one per head.</summary>
    Tensor Delta(Tensor dtIn) => nn.functional.softplus(dtIn + dt_bias);

    /// <summary>A = −exp(A_log): negative, so exp(ΔA) ∈ (0, 1) decays the head's whole state.</summary>
    Tensor A() => -exp(A_log);

    Mamba2State? AsState(MixerState? state) => state switch
    {
        null => null,
        Mamba2State s when s.Conv.shape[1] == convChannels && s.Conv.shape[2] == kernel - 1 &&
                           s.Ssm.shape[1] == heads && s.Ssm.shape[2] == headDim && s.Ssm.shape[3] == stateSize => s,
        Mamba2State s => throw new ArgumentException(
            $"Mamba-2 state has conv [{string.Join(", ", s.Conv.shape)}] and ssm [{string.Join(", ", s.Ssm.shape)}], " +
            $"this layer needs [batch, {convChannels}, {kernel - 1}] and [batch, {heads}, {headDim}, {stateSize}]"),
        _ => throw new ArgumentException($"Mamba2 needs a Mamba2State, got {state.GetType().Name}"),
    };

    public override MixerState AllocateState(long batch, long maxLength, ScalarType dtype, Device device) =>
        new Mamba2State(zeros(batch, convChannels, kernel - 1, dtype: dtype, device: device),
                        zeros(batch, heads, headDim, stateSize, dtype: dtype, device: device));

    /// <summary>Conv window and SSD state: batch · ((E + 2GN)(d_conv − 1) + H·P·N) values, whatever the length.</summary>
    public override long StateBytes(long batch, long length, ScalarType dtype) =>
        batch * ((long)convChannels * (kernel - 1) + (long)heads * headDim * stateSize) * ElementSize(dtype);

    /// <summary>
    /// The chunked form's arithmetic per token, Q = min(chunk, context) (projections and the conv are parameter work):
    /// per head, its row of C·Bᵀ over the chunk (2NQ), the decay mask (Q, its exp counted once) and its row of that matrix
    /// times Δx (2PQ); the chunk-state contribution and the read of the chunk's start state (2PN each); Δ·x (P) and the
    /// D skip (2P); per channel the gate's SiLU and multiply and the norm (about 5·E). The state passing between chunks
    /// (2PN per chunk) is below one per token for Q ≥ 2 and left out.
    /// </summary>
    public override long NonParameterFlopsPerToken(long contextLength)
    {
        long q = Math.Max(1, Math.Min(chunk, contextLength));
        return heads * (2L * stateSize * q + q + 2L * headDim * q + 4L * headDim * stateSize + 3L * headDim) + 5L * inner;
    }
}

/// <summary>
/// Mamba-2's gated RMSNorm (state-spaces/mamba <c>ops/triton/layernorm_gated.RMSNorm</c>): RMS-normalises each of
/// <c>groups</c> groups of channels on its own, computed in at least float32, and gates with SiLU(z) after the norm
/// (<c>norm_before_gate</c>) or before it (the default: norm(y · SiLU(z))).
/// </summary>
public sealed class GatedRmsNorm : nn.Module<Tensor, Tensor, Tensor>
{
    public readonly Parameter weight;
    readonly int groups;
    readonly bool normBeforeGate;

    public GatedRmsNorm(int width, int groups, bool normBeforeGate) : base(nameof(GatedRmsNorm))
    {
        weight = new Parameter(ones(width));
        this.groups = groups;
        this.normBeforeGate = normBeforeGate;
        RegisterComponents();
    }

    public bool NormBeforeGate => normBeforeGate;

    public override Tensor forward(Tensor y, Tensor z)
    {
        using var scope = NewDisposeScope();
        var dtype = y.dtype;
        bool low = dtype is ScalarType.BFloat16 or ScalarType.Float16;
        var yf = low ? y.to(ScalarType.Float32) : y;
        var gate = nn.functional.silu(low ? z.to(ScalarType.Float32) : z);
        if (!normBeforeGate) yf = yf * gate;
        long[] shape = yf.shape;
        var grouped = yf.reshape([.. shape[..^1], groups, shape[^1] / groups]);
        var normed = (grouped * rsqrt(grouped.pow(2).mean([-1], keepdim: true) + Mamba2.NormEps)).reshape(shape) * weight;
        if (normBeforeGate) normed = normed * gate;
        return normed.to(dtype).MoveToOuterDisposeScope();
    }
}
