using ArchLab.Kernels;
using static TorchSharp.torch;

namespace ArchLab.Mixers;

/// <summary>
/// What RWKV-4's time mixing carries between tokens: the previous token's (normalised) input for the token shift,
/// [batch, dim], and the WKV accumulator <see cref="Wkv4State"/> (a, b, p, each [batch, dimAtt]: numerator and
/// denominator scaled by exp(−p), and the running maximum exponent p). Empty state = zeros, p = −1e30 (as the
/// ChatRWKV runner initialises it: exp(p − anything) underflows to 0, so the first token sees only its own bonus).
/// </summary>
public sealed class Rwkv4TimeMixState : MixerState
{
    /// <summary>The "minus infinity" the official runner starts p with (finite, so p − p is 0, not NaN).</summary>
    public const double EmptyExponent = -1e30;

    public Tensor Shift { get; private set; }
    public Wkv4State Wkv { get; private set; }

    public Rwkv4TimeMixState(long batch, long dim, long dimAtt, ScalarType dtype, Device device)
    {
        Shift = Keep(zeros([batch, dim], dtype, device));
        Wkv = KeepAll(Wkv4State.Empty(batch, dimAtt, dtype, device));
    }

    /// <summary>A state from given tensors (tests: random states). Copies them.</summary>
    public Rwkv4TimeMixState(Tensor shift, Wkv4State wkv, long position = 0)
    {
        Shift = Keep(shift.clone());
        Wkv = KeepAll(new Wkv4State(wkv.A.clone(), wkv.B.clone(), wkv.P.clone()));
        Position = position;
    }

    protected override IEnumerable<Tensor> Tensors => [Shift, Wkv.A, Wkv.B, Wkv.P];

    /// <summary>Replaces the tensors (not an in-place copy, so autograd can flow from one chunk into the next).</summary>
    internal void Advance(Tensor shift, Wkv4State wkv, long tokens)
    {
        foreach (var t in Tensors) t.Dispose();
        Shift = Keep(shift);
        Wkv = KeepAll(wkv);
        Position += tokens;
    }

    static Wkv4State KeepAll(Wkv4State s) => new(Keep(s.A), Keep(s.B), Keep(s.P));
}

/// <summary>What RWKV-4's channel mixing carries between tokens: the previous token's (normalised) input, [batch, dim].</summary>
public sealed class Rwkv4ChannelMixState : MixerState
{
    public Tensor Shift { get; private set; }

    public Rwkv4ChannelMixState(long batch, long dim, ScalarType dtype, Device device) => Shift = Keep(zeros([batch, dim], dtype, device));

    /// <summary>A state from a given tensor (tests). Copies it.</summary>
    public Rwkv4ChannelMixState(Tensor shift, long position = 0)
    {
        Shift = Keep(shift.clone());
        Position = position;
    }

    protected override IEnumerable<Tensor> Tensors => [Shift];

    internal void Advance(Tensor shift, long tokens)
    {
        Shift.Dispose();
        Shift = Keep(shift);
        Position += tokens;
    }
}
