using static TorchSharp.torch;

namespace ArchLab.Mixers;

/// <summary>
/// What a <see cref="GatedDeltaNet"/> layer carries between tokens; its size does not grow with the sequence:
/// <list type="bullet">
/// <item><see cref="Conv"/> [batch, q + k + v channels, conv − 1]: the last conv − 1 inputs of the three short
/// convolutions, oldest first (zeros before the first token); null when the layer has no short convolutions;</item>
/// <item><see cref="Recurrent"/> [batch, value heads, key head dim, value head dim]: the delta-rule state S.</item>
/// </list>
/// Advancing replaces the tensors rather than writing into them, so a state produced under autograd stays
/// differentiable when the next chunk reads it.
/// </summary>
public sealed class GatedDeltaNetState : MixerState
{
    /// <summary>Takes ownership of <paramref name="conv"/> and <paramref name="recurrent"/>.</summary>
    public GatedDeltaNetState(Tensor? conv, Tensor recurrent, long position = 0)
    {
        if (recurrent.dim() != 4 || conv is not null && (conv.dim() != 3 || conv.shape[0] != recurrent.shape[0]))
            throw new ArgumentException($"Gated DeltaNet state wants conv [batch, channels, conv-1] (or none) and recurrent " +
                                        $"[batch, heads, key dim, value dim], got {Shape(conv)} and {Shape(recurrent)}");
        Conv = conv is null ? null : Keep(conv);
        Recurrent = Keep(recurrent);
        Position = position;
    }

    public Tensor? Conv { get; private set; }
    public Tensor Recurrent { get; private set; }

    protected override IEnumerable<Tensor> Tensors => Conv is null ? [Recurrent] : [Conv, Recurrent];

    /// <summary>An independent copy (same values and position).</summary>
    public GatedDeltaNetState Clone() => new(Conv?.detach().clone(), Recurrent.detach().clone(), Position);

    internal static string Shape(Tensor? t) => t is null ? "none" : $"[{string.Join(", ", t.shape)}]";

    /// <summary>Moves the state on by <paramref name="tokens"/>: the new tensors replace (and free) the old ones.</summary>
    internal void Advance(Tensor? conv, Tensor recurrent, long tokens)
    {
        var (oldConv, oldRecurrent) = (Conv, Recurrent);
        Conv = conv is null ? null : Keep(conv);
        Recurrent = Keep(recurrent);
        if (oldConv is not null && !ReferenceEquals(oldConv, Conv)) oldConv.Dispose();
        if (!ReferenceEquals(oldRecurrent, Recurrent)) oldRecurrent.Dispose();
        Position += tokens;
    }
}
