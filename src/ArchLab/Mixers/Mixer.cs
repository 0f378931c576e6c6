using ArchLab.Kernels;
using TorchSharp;
using static TorchSharp.torch;

namespace ArchLab.Mixers;

/// <summary>
/// The one contract every architecture implements: the sequence mixer of a block (attention, WKV, retention, SSM), a
/// TorchSharp module. Shapes: x is [batch, time, dim]; a step token is [batch, dim]. A subclass implements the five
/// abstract members; <c>forward(x)</c> (a whole sequence from an empty state) comes with the base.
/// RWKV's channel mixing, a feed-forward that reads the previous token, is a mixer too (<see cref="Models.Block"/> gives
/// it its own state).
/// </summary>
public abstract class Mixer(string name) : nn.Module<Tensor, Tensor>(name)
{
    /// <summary>
    /// Whole sequence at once (training, prefill). Starts from <paramref name="initial"/> when given (the state after
    /// earlier tokens) and, when <paramref name="returnFinal"/> is set, returns the state after the last token.
    /// A given <paramref name="initial"/> may be updated in place and returned as the final state.
    /// </summary>
    public abstract (Tensor Output, MixerState? Final) Forward(Tensor x, MixerState? initial = null, bool returnFinal = false);

    /// <summary>One token: x [batch, dim] → [batch, dim]; advances <paramref name="state"/> in place.</summary>
    public abstract Tensor Step(Tensor x, MixerState state);

    /// <summary>An empty state (position 0) ready for up to <paramref name="maxLength"/> tokens.</summary>
    public abstract MixerState AllocateState(long batch, long maxLength, ScalarType dtype, Device device);

    /// <summary>Bytes of state after <paramref name="length"/> tokens (a KV cache grows with length; recurrent states do not).</summary>
    public abstract long StateBytes(long batch, long length, ScalarType dtype);

    /// <summary>Forward FLOPs per token that are not parameter matmuls (attention scores, scans), averaged over a
    /// causal window of <paramref name="contextLength"/> tokens. Parameter matmuls are counted as 2·N by the model.</summary>
    public abstract long NonParameterFlopsPerToken(long contextLength);

    /// <summary>The scan kernels this layer runs (<see cref="SelectiveScan"/>, <see cref="Wkv4"/>); null (the default)
    /// follows the process-wide <see cref="ScanBackends.Default"/>. Mixers without a scan kernel ignore it.</summary>
    public ScanBackend? ScanBackend { get; set; }

    /// <summary>The backend a scan of this layer runs now.</summary>
    protected ScanBackend Backend => ScanBackend ?? ScanBackends.Default;

    /// <summary>The whole sequence from an empty state.</summary>
    public sealed override Tensor forward(Tensor x) => Forward(x).Output;

    /// <summary>Bytes of one element of <paramref name="dtype"/> (for <see cref="StateBytes"/>).</summary>
    protected static long ElementSize(ScalarType dtype) => dtype switch
    {
        ScalarType.Float64 or ScalarType.Int64 => 8,
        ScalarType.Float32 or ScalarType.Int32 => 4,
        ScalarType.BFloat16 or ScalarType.Float16 => 2,
        _ => 1,
    };
}
