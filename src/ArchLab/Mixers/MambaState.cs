using static TorchSharp.torch;

namespace ArchLab.Mixers;

/// <summary>
/// What a <see cref="Mamba"/> layer carries between tokens; its size does not grow with the sequence:
/// <list type="bullet">
/// <item><see cref="Conv"/> [batch, inner, d_conv − 1]: the last d_conv − 1 inputs of the causal conv, oldest first
/// (zeros before the first token, which is the conv's left padding);</item>
/// <item><see cref="Ssm"/> [batch, inner, d_state]: the selective-scan state h.</item>
/// </list>
/// Advancing replaces the tensors rather than writing into them, so a state produced under autograd stays
/// differentiable when the next chunk reads it.
/// </summary>
public sealed class MambaState : MixerState
{
    /// <summary>Takes ownership of <paramref name="conv"/> and <paramref name="ssm"/>.</summary>
    public MambaState(Tensor conv, Tensor ssm, long position = 0)
    {
        if (conv.dim() != 3 || ssm.dim() != 3 || conv.shape[0] != ssm.shape[0] || conv.shape[1] != ssm.shape[1])
            throw new ArgumentException($"Mamba state wants conv [batch, inner, d_conv-1] and ssm [batch, inner, d_state], " +
                                        $"got [{string.Join(", ", conv.shape)}] and [{string.Join(", ", ssm.shape)}]");
        Conv = Keep(conv);
        Ssm = Keep(ssm);
        Position = position;
    }

    public Tensor Conv { get; private set; }
    public Tensor Ssm { get; private set; }

    protected override IEnumerable<Tensor> Tensors => [Conv, Ssm];

    /// <summary>An independent copy (same values and position).</summary>
    public MambaState Clone() => new(Conv.detach().clone(), Ssm.detach().clone(), Position);

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
