using System.Runtime.CompilerServices;
using ArchLab.Mixers;
using ArchLab.Models;
using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace ArchLab.Tests.Mixers;

/// <summary>
/// A fifth architecture that exists only in the tests, to check that a mixer is one file plus one registration line
/// (<see cref="Register"/>) and that the conformance suite takes every registered mixer (src/ArchLab/Mixers/README.md).
/// It is a gated exponential moving average: per channel c, u = W_in x, g = σ(W_g x), decay γ_c = σ(decay_c),
///   h_t = γ ⊙ h_{t−1} + (1 − γ) ⊙ u_t,   y_t = W_out (g_t ⊙ h_t),
/// run over a whole sequence in a parallel form (h_t = γ^{t+1} h_{−1} + Σ_{s≤t} γ^{t−s} (1 − γ) u_s, one masked matmul)
/// and token by token in <see cref="Step"/>, so the suite compares two different computations.
/// </summary>
public sealed class ToyMixer : Mixer
{
    public static readonly MixerSpec Spec = new("toy-ema", (config, _, outputStd) => new ToyMixer(config.Dim, outputStd))
    {
        DefaultNorm = "rmsnorm",
        DefaultMlp = "swiglu",
        ParameterCount = (config, _) => 3.0 * config.Dim * config.Dim + config.Dim,
        StateElements = config => config.Dim,
    };

    /// <summary>The one registration line.</summary>
    [ModuleInitializer]
    internal static void Register() => MixerRegistry.Register(Spec);

    public readonly Projection w_in, w_gate, w_out;
    public readonly Parameter decay;
    readonly int dim;

    public ToyMixer(int dim, double outputInitStd) : base(nameof(ToyMixer))
    {
        this.dim = dim;
        w_in = new Projection(dim, dim);
        w_gate = new Projection(dim, dim);
        w_out = new Projection(dim, dim, initStd: outputInitStd);
        decay = new Parameter(linspace(-1, 2, dim));
        RegisterComponents();
    }

    public override (Tensor Output, MixerState? Final) Forward(Tensor x, MixerState? initial = null, bool returnFinal = false)
    {
        using var scope = NewDisposeScope();
        var state = MixerState.As<ToyState>(initial, "toy mixer");
        long batch = x.shape[0], time = x.shape[1];
        var gamma = decay.sigmoid();                                                   // [C]
        var u = w_in.call(x) * (1 - gamma);                                            // [B, T, C]
        var t = arange(time, x.dtype, x.device);
        var age = (t.unsqueeze(1) - t.unsqueeze(0)).unsqueeze(-1);                      // [T, T, 1]: t − s
        var weights = (age.clamp_min(0) * gamma.log()).exp() * age.ge(0);              // γ^(t−s) for s ≤ t, else 0
        var h = einsum("tsc,bsc->btc", weights, u);
        if (state is not null) h = h + (t.unsqueeze(1) + 1).mul(gamma.log()).exp() * state.H.unsqueeze(1);
        var y = w_out.call(w_gate.call(x).sigmoid() * h);
        MixerState? final = null;
        if (returnFinal)
        {
            var last = time > 0 ? h.select(1, time - 1) : state?.H ?? zeros(batch, dim, x.dtype, x.device);
            final = state ?? new ToyState(zeros(batch, dim, x.dtype, x.device));
            ((ToyState)final).Advance(last.MoveToOuterDisposeScope(), time);
        }
        return (y.MoveToOuterDisposeScope(), final);
    }

    public override Tensor Step(Tensor x, MixerState state)
    {
        using var scope = NewDisposeScope();
        var s = MixerState.Require<ToyState>(state, "toy mixer");
        var gamma = decay.sigmoid();
        var h = gamma * s.H + (1 - gamma) * w_in.call(x);
        var y = w_out.call(w_gate.call(x).sigmoid() * h);
        s.Advance(h.MoveToOuterDisposeScope(), 1);
        return y.MoveToOuterDisposeScope();
    }

    public override MixerState AllocateState(long batch, long maxLength, ScalarType dtype, Device device) =>
        new ToyState(zeros(batch, dim, dtype, device));

    public override long StateBytes(long batch, long length, ScalarType dtype) => batch * dim * ElementSize(dtype);

    /// <summary>Per token and channel: (1 − γ)·u, the state update (2), the gate σ and product (2).</summary>
    public override long NonParameterFlopsPerToken(long contextLength) => 5L * dim;

    /// <summary>h [batch, dim].</summary>
    public sealed class ToyState(Tensor h) : MixerState
    {
        public Tensor H { get; private set; } = Keep(h);

        protected override IEnumerable<Tensor> Tensors => [H];

        internal void Advance(Tensor h, long tokens)
        {
            if (!ReferenceEquals(h, H)) H.Dispose();
            H = Keep(h);
            Position += tokens;
        }
    }
}
