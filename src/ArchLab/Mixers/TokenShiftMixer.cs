using static TorchSharp.torch;

namespace ArchLab.Mixers;

/// <summary>
/// A mixer whose only state is the previous token's input (<see cref="Rwkv4ChannelMixState"/>), as RWKV's channel
/// mixings: a chunk or a step runs <see cref="Mix"/> on the inputs and the inputs shifted by one token.
/// </summary>
public abstract class TokenShiftMixer(string name, int dim, string owner) : Mixer(name)
{
    /// <summary>Output for inputs x and the previous tokens' inputs (any leading shape).</summary>
    protected abstract Tensor Mix(Tensor x, Tensor previous);

    public override (Tensor Output, MixerState? Final) Forward(Tensor x, MixerState? initial = null, bool returnFinal = false)
    {
        using var scope = NewDisposeScope();
        long batch = x.shape[0], time = x.shape[1];
        var state = MixerState.As<Rwkv4ChannelMixState>(initial, owner);
        if (time == 0) return (empty_like(x).MoveToOuterDisposeScope(), returnFinal ? state ?? new Rwkv4ChannelMixState(batch, dim, x.dtype, x.device) : null);

        var first = state?.Shift.unsqueeze(1) ?? zeros([batch, 1, dim], x.dtype, x.device);
        var y = Mix(x, cat([first, x.narrow(1, 0, time - 1)], 1));
        MixerState? final = null;
        if (returnFinal)
        {
            var target = state ?? new Rwkv4ChannelMixState(batch, dim, x.dtype, x.device);
            target.Advance(x.select(1, time - 1).clone(), time); // a copy: a view would keep all of x alive
            final = target;
        }
        return (y.MoveToOuterDisposeScope(), final);
    }

    public override Tensor Step(Tensor x, MixerState state)
    {
        using var scope = NewDisposeScope();
        var s = MixerState.Require<Rwkv4ChannelMixState>(state, owner);
        var y = Mix(x, s.Shift);
        s.Advance(x.alias(), 1);
        return y.MoveToOuterDisposeScope();
    }

    public override MixerState AllocateState(long batch, long maxLength, ScalarType dtype, Device device) =>
        new Rwkv4ChannelMixState(batch, dim, dtype, device);

    /// <summary>The previous input [B, dim]: independent of length.</summary>
    public override long StateBytes(long batch, long length, ScalarType dtype) => batch * dim * ElementSize(dtype);
}
