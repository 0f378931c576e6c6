using static TorchSharp.torch;

namespace ArchLab.Mixers;

/// <summary>
/// The state of a layer with a causal convolution before a state-space scan (<see cref="MambaState"/>,
/// <see cref="Mamba2State"/>): the conv's last d_conv − 1 inputs and the scan's state. Advancing replaces the tensors
/// rather than writing into them, so a state produced under autograd stays differentiable when the next chunk reads it.
/// </summary>
public abstract class ConvSsmState : MixerState
{
    /// <summary>Takes ownership of <paramref name="conv"/> and <paramref name="ssm"/> (the subclass has checked their shapes).</summary>
    protected ConvSsmState(Tensor conv, Tensor ssm, long position)
    {
        Conv = Keep(conv);
        Ssm = Keep(ssm);
        Position = position;
    }

    /// <summary>[batch, channels, d_conv − 1]: the last d_conv − 1 inputs of the causal conv, oldest first.</summary>
    public Tensor Conv { get; private set; }

    /// <summary>The scan's state (its shape is the subclass's).</summary>
    public Tensor Ssm { get; private set; }

    protected override IEnumerable<Tensor> Tensors => [Conv, Ssm];

    /// <summary>"[d0, d1, …]" of a tensor, for shape errors.</summary>
    protected static string ShapeOf(Tensor t) => $"[{string.Join(", ", t.shape)}]";

    /// <summary>Moves the state on by <paramref name="tokens"/>: the new tensors replace (and free) the old ones.</summary>
    internal void Advance(Tensor conv, Tensor ssm, long tokens)
    {
        var (oldConv, oldSsm) = (Conv, Ssm);
        Conv = Keep(conv);
        Ssm = Keep(ssm);
        if (!ReferenceEquals(oldConv, Conv)) oldConv.Dispose();
        if (!ReferenceEquals(oldSsm, Ssm)) oldSsm.Dispose();
        Position += tokens;
    }
}
