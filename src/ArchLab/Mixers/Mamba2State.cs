using static TorchSharp.torch;

namespace ArchLab.Mixers;

/// <summary>
/// What a <see cref="Mamba2"/> layer carries between tokens; its size does not grow with the sequence:
/// <list type="bullet">
/// <item><see cref="ConvSsmState.Conv"/> [batch, conv channels, d_conv − 1]: the last d_conv − 1 inputs of the causal conv over x, B
/// and C, oldest first (zeros before the first token);</item>
/// <item><see cref="ConvSsmState.Ssm"/> [batch, heads, head dim, d_state]: the SSD state S of every head.</item>
/// </list>
/// </summary>
public sealed class Mamba2State : ConvSsmState
{
    /// <summary>Takes ownership of <paramref name="conv"/> and <paramref name="ssm"/>.</summary>
    public Mamba2State(Tensor conv, Tensor ssm, long position = 0) : base(Checked(conv, ssm), ssm, position) { }

    static Tensor Checked(Tensor conv, Tensor ssm) =>
        conv.dim() != 3 || ssm.dim() != 4 || conv.shape[0] != ssm.shape[0]
            ? throw new ArgumentException($"Mamba-2 state wants conv [batch, channels, d_conv-1] and ssm [batch, heads, head_dim, d_state], " +
                                          $"got {ShapeOf(conv)} and {ShapeOf(ssm)}")
            : conv;

    /// <summary>An independent copy (same values and position).</summary>
    public Mamba2State Clone() => new(Conv.detach().clone(), Ssm.detach().clone(), Position);
}
