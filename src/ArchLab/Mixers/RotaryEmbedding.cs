using static TorchSharp.torch;

namespace ArchLab.Mixers;

/// <summary>
/// Rotary position embedding as Meta's LLaMA applies it: consecutive pairs (x[2i], x[2i+1]) are rotated by
/// angle pos·θ^(−2i/headDim). Angles, cos and sin are computed in float32 (as the official code does) and then cast,
/// so float64 runs match the official float64 logits.
/// </summary>
public sealed class RotaryEmbedding
{
    readonly int headDim;
    readonly double theta;
    Tensor? cos, sin; // [length, headDim/2], float32, cached and grown on demand

    public RotaryEmbedding(int headDim, double theta)
    {
        this.headDim = headDim;
        this.theta = theta;
    }

    /// <summary>Rotates x [batch, time, heads, headDim] whose first token sits at absolute position <paramref name="start"/>.</summary>
    public Tensor Apply(Tensor x, long start)
    {
        using var scope = NewDisposeScope();
        long t = x.shape[1];
        EnsureLength(start + t, x.device);
        var c = cos!.narrow(0, start, t).to(x.dtype).view(1, t, 1, headDim / 2);
        var s = sin!.narrow(0, start, t).to(x.dtype).view(1, t, 1, headDim / 2);
        var pairs = x.view(x.shape[0], t, x.shape[2], headDim / 2, 2);
        var x0 = pairs.select(-1, 0);
        var x1 = pairs.select(-1, 1);
        var rotated = stack([x0 * c - x1 * s, x0 * s + x1 * c], -1);
        return rotated.view(x.shape).MoveToOuterDisposeScope();
    }

    /// <summary>θ^(−2i/headDim) for i &lt; headDim/2, float32, as the official code computes them.</summary>
    public static float[] InverseFrequencies(int headDim, double theta)
    {
        using var scope = NewDisposeScope();
        return InverseFrequencyTensor(headDim, theta).data<float>().ToArray();
    }

    static Tensor InverseFrequencyTensor(int headDim, double theta)
    {
        var exponents = arange(0, headDim, 2, ScalarType.Float32) / (float)headDim;
        return full_like(exponents, theta).pow(exponents).reciprocal();
    }

    void EnsureLength(long length, Device device)
    {
        bool sameDevice = cos is not null && cos.device_type == device.type && cos.device_index == device.index;
        if (sameDevice && cos!.shape[0] >= length) return;
        long size = Math.Max(length, sameDevice ? 2 * cos!.shape[0] : 0);
        using var scope = NewDisposeScope();
        var angles = outer(arange(0, size, 1, ScalarType.Float32), InverseFrequencyTensor(headDim, theta)).data<float>().ToArray();
        // The official code builds the table with torch.polar, whose CPU kernel calls the C library's cosf/sinf; MathF
        // calls the same functions, so the table is bit-identical (libtorch's vectorised cos differs in the last bit).
        cos?.Dispose(); sin?.Dispose();
        cos = tensor(angles.Select(MathF.Cos).ToArray()).view(size, headDim / 2).to(device).DetachFromDisposeScope();
        sin = tensor(angles.Select(MathF.Sin).ToArray()).view(size, headDim / 2).to(device).DetachFromDisposeScope();
    }
}
