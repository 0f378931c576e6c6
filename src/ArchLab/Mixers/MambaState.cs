using static TorchSharp.torch;

namespace ArchLab.Mixers;

/// <summary>
/// What a <see cref="Mamba"/> layer carries between tokens; its size does not grow with the sequence:
/// <list type="bullet">
/// <item><see cref="ConvSsmState.Conv"/> [batch, inner, d_conv − 1]: the last d_conv − 1 inputs of the causal conv, oldest first
/// (zeros before the first token, which is the conv's left padding);</item>
/// <item><see cref="ConvSsmState.Ssm"/> [batch, inner, d_state]: the selective-scan state h.</item>
/// </list>
/// </summary>
public sealed class MambaState : ConvSsmState
{
    /// <summary>Takes ownership of <paramref name="conv"/> and <paramref name="ssm"/>.</summary>
    public MambaState(Tensor conv, Tensor ssm, long position = 0) : base(Checked(conv, ssm), ssm, position) { }

    static Tensor Checked(Tensor conv, Tensor ssm) =>
        conv.dim() != 3 || ssm.dim() != 3 || conv.shape[0] != ssm.shape[0] || conv.shape[1] != ssm.shape[1]
            ? throw new ArgumentException($"Mamba state wants conv [batch, inner, d_conv-1] and ssm [batch, inner, d_state], " +
                                          $"got {ShapeOf(conv)} and {ShapeOf(ssm)}")
            : conv;

    /// <summary>An independent copy (same values and position).</summary>
    public MambaState Clone() => new(Conv.detach().clone(), Ssm.detach().clone(), Position);
}
