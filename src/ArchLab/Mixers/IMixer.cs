using static TorchSharp.torch;

namespace ArchLab.Mixers;

/// <summary>
/// The one contract every architecture implements: the sequence mixer of a block (attention, WKV, retention, SSM).
/// Shapes: x is [batch, time, dim]; a step token is [batch, dim].
/// </summary>
public interface IMixer
{
    /// <summary>
    /// Whole sequence at once (training, prefill). Starts from <paramref name="initial"/> when given (the state after
    /// earlier tokens) and, when <paramref name="returnFinal"/> is set, returns the state after the last token.
    /// A given <paramref name="initial"/> may be updated in place and returned as the final state.
    /// </summary>
    (Tensor Output, MixerState? Final) Forward(Tensor x, MixerState? initial = null, bool returnFinal = false);

    /// <summary>One token: x [batch, dim] → [batch, dim]; advances <paramref name="state"/> in place.</summary>
    Tensor Step(Tensor x, MixerState state);

    /// <summary>An empty state (position 0) ready for up to <paramref name="maxLength"/> tokens.</summary>
    MixerState AllocateState(long batch, long maxLength, ScalarType dtype, Device device);

    /// <summary>Bytes of state after <paramref name="length"/> tokens (a KV cache grows with length; recurrent states do not).</summary>
    long StateBytes(long batch, long length, ScalarType dtype);

    /// <summary>Forward FLOPs per token that are not parameter matmuls (attention scores, scans), averaged over a
    /// causal window of <paramref name="contextLength"/> tokens. Parameter matmuls are counted as 2·N by the model.</summary>
    long NonParameterFlopsPerToken(long contextLength);
}
