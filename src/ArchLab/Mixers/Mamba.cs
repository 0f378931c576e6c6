using ArchLab.Engine;
using ArchLab.Engine.Layers;
using ArchLab.Kernels;
using ArchLab.Models;
using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace ArchLab.Mixers;

/// <summary>
/// Mamba (v1) selective state-space mixer (Gu &amp; Dao 2023, "Mamba: Linear-Time Sequence Modeling with Selective State
/// Spaces", §3 and Algorithm 2; state-spaces/mamba <c>mamba_simple.Mamba</c>). With E = inner width, N = state size:
/// <code>
///   [x, z] = in_proj(u)                        x, z ∈ ℝ^E
///   x      = SiLU(causal depthwise conv(x))    kernel d_conv per channel, plus bias
///   [δ, B, C] = x_proj(x)                      δ ∈ ℝ^dt_rank, B, C ∈ ℝ^N (the "selection": input-dependent)
///   Δ      = softplus(dt_proj(δ))              ∈ ℝ^E, dt_proj has a bias
///   h_t    = exp(Δ_t A) ⊙ h_{t−1} + (Δ_t x_t) B_tᵀ      A = −exp(A_log) ∈ ℝ^{E×N}, zero-order-hold Ā, Euler B̄ (eq. 4)
///   y_t    = h_t C_t + D ⊙ x_t
///   out    = out_proj(y ⊙ SiLU(z))
/// </code>
/// The whole-sequence path runs the recurrence through <see cref="SelectiveScan"/>: a fused CPU kernel with a
/// hand-written backward by default, or the sequential tensor-op loop (<c>selective_scan_ref</c>'s form) as reference.
/// Blocks around it are RMSNorm → Mamba → residual with no MLP.
/// </summary>
public sealed class Mamba : Mixer, ILeanConvertible
{
    public readonly Projection in_proj, x_proj, dt_proj, out_proj;
    public readonly Conv1d conv1d;
    /// <summary>log(−A) [inner, d_state]; stored as a log so A stays negative (the state decays).</summary>
    public readonly Parameter A_log;
    /// <summary>Skip connection weight per channel [inner].</summary>
    public readonly Parameter D;

    readonly int dim, inner, stateSize, kernel, dtRank;

    static readonly Scalar One = 1.0;

    // Δ initialisation range (the official defaults dt_min, dt_max, dt_init_floor).
    const double DtMin = 1e-3, DtMax = 1e-1, DtInitFloor = 1e-4;

    /// <summary>Mamba's blocks: RMSNorm and no MLP (the block is the mixer alone); no weight decay on A_log (as the official
    /// code); imports state-spaces/mamba checkpoints.</summary>
    public static readonly MixerSpec Spec = new("mamba", (config, _, _) => new Mamba(config)) // official init, not the GPT-2 output std
    {
        DefaultNorm = "rmsnorm",
        DefaultMlp = "none",
        NoDecayParameters = [nameof(A_log)],
        UsesScanBackend = true,
        TrainingForms = [new("fused-scan", (config, _) => config)],
        Importer = new Checkpoints.Importers.MambaImporter(),
        ValidateConfig = config => config.Ssm.Validate(),
        ParameterCount = ParameterCount,
        StateElements = config => config.Ssm.InnerWidth * (config.Ssm.ConvKernel - 1 + config.Ssm.StateSize),
    };

    static double ParameterCount(ModelConfig config, int layer)
    {
        double dim = config.Dim, inner = config.Ssm.InnerWidth, state = config.Ssm.StateSize, rank = config.Ssm.DtRankSize;
        var ssm = config.Ssm;
        bool projBias = ssm.HasProjBias, convBias = ssm.HasConvBias;
        return dim * 2 * inner + (projBias ? 2 * inner : 0)          // in_proj
               + inner * config.Ssm.ConvKernel + (convBias ? inner : 0)   // depthwise conv1d
               + inner * (rank + 2 * state)                           // x_proj
               + rank * inner + inner                                 // dt_proj
               + inner * dim + (projBias ? dim : 0)                   // out_proj
               + inner * state + inner;                               // A_log, D
    }

    public Mamba(ModelConfig config) : base(nameof(Mamba))
    {
        dim = config.Dim;
        inner = config.Ssm.InnerDim;
        stateSize = config.Ssm.StateSize;
        kernel = config.Ssm.ConvKernel;
        dtRank = config.Ssm.DtRankSize;
        bool projBias = config.Ssm.HasProjBias;

        in_proj = new Projection(dim, 2 * inner, hasBias: projBias);
        conv1d = nn.Conv1d(inner, inner, kernel, groups: inner, bias: config.Ssm.HasConvBias);
        x_proj = new Projection(inner, dtRank + 2 * stateSize);
        dt_proj = new Projection(dtRank, inner, hasBias: true);
        out_proj = new Projection(inner, dim, hasBias: projBias);
        A_log = new Parameter(log(arange(1, stateSize + 1, dtype: ScalarType.Float32)).repeat(inner, 1));
        D = new Parameter(ones(inner));
        InitLikeOfficial(config.Layers);
        RegisterComponents();
    }

    /// <summary>
    /// The official initialisation (Mamba.__init__ and mixer_seq_simple._init_weights): in_proj and x_proj keep PyTorch's
    /// Linear default U(±1/√fan_in); out_proj the same divided by √n_layer (one residual branch per layer); dt_proj.weight
    /// U(±dt_rank^−½); dt_proj.bias = softplus⁻¹(Δ) with Δ log-uniform in [dt_min, dt_max], so that softplus(bias)
    /// starts in that range; A_log = log(1..N) per channel (S4D-real); D = 1; the conv keeps PyTorch's default.
    /// </summary>
    void InitLikeOfficial(int layers)
    {
        using var noGrad = no_grad();
        static void Uniform(Tensor w, double bound) => nn.init.uniform_(w, -bound, bound);
        Uniform(in_proj.weight, 1 / Math.Sqrt(dim));
        Uniform(x_proj.weight, 1 / Math.Sqrt(inner));
        Uniform(out_proj.weight, 1 / Math.Sqrt(inner) / Math.Sqrt(layers));
        Uniform(dt_proj.weight, 1 / Math.Sqrt(dtRank));
        using var dt = exp(rand(inner) * (Math.Log(DtMax) - Math.Log(DtMin)) + Math.Log(DtMin)).clamp_min(DtInitFloor);
        using var inverseSoftplus = dt + log(-expm1(-dt)); // softplus(y) = Δ  ⇔  y = Δ + log(1 − e^−Δ)
        dt_proj.bias!.copy_(inverseSoftplus);
    }

    public int InnerDim => inner;
    public int StateSize => stateSize;
    public int ConvKernel => kernel;

        /// <summary>x [batch, time, dim] → [batch, time, dim], continuing from <paramref name="initial"/> (a <see cref="MambaState"/>).</summary>
    public override (Tensor Output, MixerState? Final) Forward(Tensor x, MixerState? initial = null, bool returnFinal = false)
    {
        var state = AsMambaState(initial);
        using var scope = NewDisposeScope();
        long batch = x.shape[0], time = x.shape[1];
        var xz = in_proj.call(x);
        var u = xz.narrow(-1, 0, inner);
        var z = xz.narrow(-1, inner, inner);

        var (conv, convTail) = CausalConvolution.Forward(u, conv1d.weight!, conv1d.bias, state?.Conv);
        var xc = nn.functional.silu(conv);                                                    // [B, T, E]

        var (delta, bIn, cIn) = Select(xc);                                                   // [B,T,E], [B,T,N], [B,T,N]
        var h0 = state?.Ssm ?? zeros(batch, inner, stateSize, dtype: xc.dtype, device: xc.device);
        var (y, hLast) = Scan(xc, delta, bIn, cIn, h0);
        var output = out_proj.call(y * nn.functional.silu(z));

        MambaState? final = null;
        if (returnFinal)
        {
            if (state is null) final = new MambaState(convTail, hLast, time);
            else { state.Advance(convTail, hLast, time); final = state; }
        }
        return (output.MoveToOuterDisposeScope(), final);
    }

    /// <summary>One token x [batch, dim] → [batch, dim]; the same equations as <see cref="Forward"/> with T = 1
    /// (the official <c>Mamba.step</c>): roll the conv window, one state update.</summary>
    public override Tensor Step(Tensor x, MixerState state)
    {
        var s = AsMambaState(state) ?? throw new ArgumentNullException(nameof(state));
        using var scope = NewDisposeScope();
        var xz = in_proj.call(x);
        var u = xz.narrow(-1, 0, inner);
        var z = xz.narrow(-1, inner, inner);

        var (conv, convTail) = CausalConvolution.Step(u, conv1d.weight!, conv1d.bias, s.Conv);
        var xc = nn.functional.silu(conv);                                                    // [B, E]

        var (delta, bIn, cIn) = Select(xc);                                                   // [B,E], [B,N], [B,N]
        var decay = exp(delta.unsqueeze(-1) * A());                                           // exp(Δ A)   [B, E, N]
        var h = addcmul((delta * xc).unsqueeze(-1) * bIn.unsqueeze(1), decay, s.Ssm, One);        // + Δ x Bᵀ
        var y = matmul(h, cIn.unsqueeze(-1)).squeeze(-1) + D * xc;                            // h C + D x
        var output = out_proj.call(y * nn.functional.silu(z));

        s.Advance(convTail, h, 1);
        return output.MoveToOuterDisposeScope();
    }

    public ILeanLayer ToLean(LeanBuilder b)
    {
        using var scope = NewDisposeScope();
        return new LeanMamba(b.Matrix(in_proj), b.Matrix(x_proj), b.Matrix(dt_proj), b.Matrix(out_proj), LeanBuilder.Vector(conv1d.weight!),
            conv1d.bias is null ? null : LeanBuilder.Vector(conv1d.bias), LeanBuilder.Vector(A()), LeanBuilder.Vector(D), kernel);
    }

    /// <summary>A = −exp(A_log): negative, so exp(ΔA) ∈ (0, 1) is a per-channel, per-state decay.</summary>
    Tensor A() => -exp(A_log);

    /// <summary>The input-dependent parameters: δ, B, C = x_proj(x); Δ = softplus(dt_proj(δ)) (with its bias).</summary>
    (Tensor Delta, Tensor B, Tensor C) Select(Tensor xc)
    {
        var dbc = x_proj.call(xc);
        var delta = nn.functional.softplus(dt_proj.call(dbc.narrow(-1, 0, dtRank)));
        return (delta, dbc.narrow(-1, dtRank, stateSize), dbc.narrow(-1, dtRank + stateSize, stateSize));
    }

    /// <summary>
    /// The selective scan over a chunk through <see cref="SelectiveScan"/> (the fused CPU kernel by default, the tensor-op
    /// loop with <see cref="ScanBackend.Reference"/>): y_t = h_t C_t, then the D skip y_t + D x_t.
    /// Returns y [B, T, E] and h after the last token [B, E, N].
    /// </summary>
    (Tensor Y, Tensor Last) Scan(Tensor xc, Tensor delta, Tensor bIn, Tensor cIn, Tensor h0)
    {
        var (y, h) = SelectiveScan.Forward(xc, delta, A(), bIn, cIn, h0, Backend);
        return (y + D * xc, h);
    }

    MambaState? AsMambaState(MixerState? state) => state switch
    {
        null => null,
        MambaState s when s.Conv.shape[1] == inner && s.Conv.shape[2] == kernel - 1 && s.Ssm.shape[2] == stateSize => s,
        MambaState s => throw new ArgumentException(
            $"Mamba state has conv [{string.Join(", ", s.Conv.shape)}] and ssm [{string.Join(", ", s.Ssm.shape)}], " +
            $"this layer needs [batch, {inner}, {kernel - 1}] and [batch, {inner}, {stateSize}]"),
        _ => throw new ArgumentException($"Mamba needs a MambaState, got {state.GetType().Name}"),
    };

    public override MixerState AllocateState(long batch, long maxLength, ScalarType dtype, Device device) =>
        new MambaState(zeros(batch, inner, kernel - 1, dtype: dtype, device: device),
                       zeros(batch, inner, stateSize, dtype: dtype, device: device));

    /// <summary>Conv window and SSM state: batch · E · (d_conv − 1 + N) values, whatever the length.</summary>
    public override long StateBytes(long batch, long length, ScalarType dtype) =>
        batch * inner * (kernel - 1 + stateSize) * ElementSize(dtype);

    /// <summary>
    /// The scan's arithmetic per token (the projections and the conv are parameter work, counted by the model):
    /// per channel and state, ΔA, its exp, ΔxB, the update's multiply and add, and C·h's multiply and add (7·E·N);
    /// per channel, Δ·x, softplus, D·x and its add, SiLU(z) and the gate multiply (6·E, counting each nonlinearity as
    /// one). Independent of the context length.
    /// </summary>
    public override long NonParameterFlopsPerToken(long contextLength) => 7L * inner * stateSize + 6L * inner;
}
