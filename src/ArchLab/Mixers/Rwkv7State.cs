using static TorchSharp.torch;

namespace ArchLab.Mixers;

/// <summary>
/// What RWKV-7's time mixing carries between tokens: the previous token's (normalised) input for the token shift,
/// [batch, dim], and the WKV state per head, [batch, heads, N, N] in the official layout S[v, k] (RWKV-LM rwkv_v7_demo_fast.py
/// keeps the same two, <c>state[i*3+0]</c> and <c>state[i*3+1]</c>). The channel mixing's previous input lives in its own
/// <see cref="Rwkv4ChannelMixState"/> (the same one-vector state as RWKV-4's).
/// </summary>
public sealed class Rwkv7TimeMixState : MixerState
{
    public Tensor Shift { get; private set; }
    public Tensor Wkv { get; private set; }

    public Rwkv7TimeMixState(long batch, long dim, long heads, long headSize, ScalarType dtype, Device device)
    {
        Shift = Keep(zeros([batch, dim], dtype, device));
        Wkv = Keep(zeros([batch, heads, headSize, headSize], dtype, device));
    }

    /// <summary>A state from given tensors (tests: random states). Copies them.</summary>
    public Rwkv7TimeMixState(Tensor shift, Tensor wkv, long position = 0)
    {
        Shift = Keep(shift.clone());
        Wkv = Keep(wkv.clone());
        Position = position;
    }

    protected override IEnumerable<Tensor> Tensors => [Shift, Wkv];

    /// <summary>Replaces the tensors (not an in-place copy, so autograd can flow from one chunk into the next).</summary>
    internal void Advance(Tensor shift, Tensor wkv, long tokens)
    {
        foreach (var t in Tensors) t.Dispose();
        Shift = Keep(shift);
        Wkv = Keep(wkv);
        Position += tokens;
    }
}
