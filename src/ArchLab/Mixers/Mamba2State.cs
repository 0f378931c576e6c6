using static TorchSharp.torch;

namespace ArchLab.Mixers;

/// <summary>
/// What a <see cref="Mamba2"/> layer carries between tokens; its size does not grow with the sequence:
/// <list type="bullet">
/// <item><see cref="Conv"/> [batch, conv channels, d_conv − 1]: the last d_conv − 1 inputs of the causal conv over x, B
/// and C, oldest first (zeros before the first token);</item>
/// <item><see cref="Ssm"/> [batch, heads, head dim, d_state]: the SSD state S of every head.</item>
/// </list>
/// Advancing replaces the tensors rather than writing into them, so a state produced under autograd stays
/// differentiable when the next chunk reads it.
/// </summary>
public sealed class Mamba2State : MixerState
{
    /// <summary>Takes ownership of <paramref name="conv"/> and <paramref name="ssm"/>.</summary>
    public Mamba2State(Tensor conv, Tensor ssm, long position = 0)
    {
        if (conv.dim() != 3 || ssm.dim() != 4 || conv.shape[0] != ssm.shape[0])
            throw new ArgumentException($"Mamba-2 state wants conv [batch, channels, d_conv-1] and ssm [batch, heads, head_dim, d_state], " +
                                        $"got [{string.Join(", ", conv.shape)}] and [{string.Join(", ", ssm.shape)}]");
        Conv = Keep(conv);
        Ssm = Keep(ssm);
        Position = position;
    }

    public Tensor Conv { get; private set; }
    public Tensor Ssm { get; private set; }

    protected override IEnumerable<Tensor> Tensors => [Conv, Ssm];

    /// <summary>An independent copy (same values and position).</summary>
    public Mamba2State Clone() => new(Conv.detach().clone(), Ssm.detach().clone(), Position);

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
