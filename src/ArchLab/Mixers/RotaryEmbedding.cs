using static TorchSharp.torch;

namespace ArchLab.Mixers;

/// <summary>
/// Rotary position embedding. By default as Meta's LLaMA applies it: consecutive pairs (x[2i], x[2i+1]) are rotated by
/// angle pos·θ^(−2i/d). With <see cref="Halves"/>, as GPT-NeoX and flash_attn's non-interleaved layout do: x[i] is paired
/// with x[i + d/2]. Only the first <see cref="RotaryDim"/> = d dimensions of a head turn (partial rotary, as in mamba_ssm's
/// MHA <c>rotary_emb_dim</c>); the rest pass through. Angles, cos and sin are computed in float32 (as the official codes do)
/// and then cast, so float64 runs match the official float64 logits.
/// </summary>
public sealed class RotaryEmbedding
{
    readonly int headDim;
    readonly double theta;
    Tensor? cos, sin; // [length, RotaryDim/2], float32, cached and grown on demand

    /// <param name="rotaryDim">dimensions of each head that turn (even, ≤ headDim); null: all of them</param>
    /// <param name="halves">pair x[i] with x[i + rotaryDim/2] (NeoX) instead of x[2i] with x[2i+1] (Meta)</param>
    public RotaryEmbedding(int headDim, double theta, int? rotaryDim = null, bool halves = false)
    {
        int d = rotaryDim ?? headDim;
        if (d <= 0 || d % 2 != 0 || d > headDim)
            throw new ArgumentException($"rotary dimensions must be even and between 2 and the head dimension {headDim}, got {d}");
        this.headDim = headDim;
        this.theta = theta;
        RotaryDim = d;
        Halves = halves;
    }

    /// <summary>Dimensions of each head that turn (the first ones).</summary>
    public int RotaryDim { get; }

    /// <summary>NeoX layout: x[i] pairs with x[i + RotaryDim/2]; otherwise Meta's x[2i] with x[2i+1].</summary>
    public bool Halves { get; }

    /// <summary>θ^(−2i/RotaryDim) for i &lt; RotaryDim/2, float32.</summary>
    public float[] InverseFrequencies() => InverseFrequencies(RotaryDim, theta);

    /// <summary>Rotates x [batch, time, heads, headDim] whose first token sits at absolute position <paramref name="start"/>.</summary>
    public Tensor Apply(Tensor x, long start)
    {
        using var scope = NewDisposeScope();
        long t = x.shape[1];
        int half = RotaryDim / 2;
        EnsureLength(start + t, x.device);
        var c = cos!.narrow(0, start, t).to(x.dtype).view(1, t, 1, half);
        var s = sin!.narrow(0, start, t).to(x.dtype).view(1, t, 1, half);
        var turning = RotaryDim == headDim ? x : x.narrow(-1, 0, RotaryDim);
        Tensor rotated;
        if (Halves)
        {
            var x0 = turning.narrow(-1, 0, half);
            var x1 = turning.narrow(-1, half, half);
            rotated = cat([x0 * c - x1 * s, x1 * c + x0 * s], -1);
        }
        else if (x.dtype is ScalarType.Float32 or ScalarType.Float64)
        {
            // Each pair as one complex number times e^{i·angle}: one kernel forward and one backward instead of the seven
            // of the real form below (Meta's code does the same); the products are the same four.
            var pairs = view_as_complex(turning.reshape(x.shape[0], t, x.shape[2], half, 2));
            rotated = view_as_real(pairs * complex(c, s)).view(turning.shape);
        }
        else
        {
            var pairs = turning.reshape(x.shape[0], t, x.shape[2], half, 2);
            var x0 = pairs.select(-1, 0);
            var x1 = pairs.select(-1, 1);
            rotated = stack([x0 * c - x1 * s, x0 * s + x1 * c], -1).view(turning.shape);
        }
        if (RotaryDim < headDim) rotated = cat([rotated, x.narrow(-1, RotaryDim, headDim - RotaryDim)], -1);
        return rotated.MoveToOuterDisposeScope();
    }

    /// <summary>θ^(−2i/d) for i &lt; d/2, float32, as the official codes compute them.</summary>
    static float[] InverseFrequencies(int headDim, double theta)
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
        var angleTable = outer(arange(0, size, 1, ScalarType.Float32), InverseFrequencyTensor(RotaryDim, theta));
        cos?.Dispose(); sin?.Dispose();
        if (Halves)
        {
            // flash_attn's RotaryEmbedding (the NeoX layout's official code here) takes torch.cos/sin of the float32 table
            cos = angleTable.cos().to(device).DetachFromDisposeScope();
            sin = angleTable.sin().to(device).DetachFromDisposeScope();
            return;
        }
        // Meta's code builds the table with torch.polar, whose CPU kernel calls the C library's cosf/sinf; MathF calls the
        // same functions, so the table is bit-identical (libtorch's vectorised cos differs in the last bit).
        var angles = angleTable.data<float>().ToArray();
        cos = tensor(angles.Select(MathF.Cos).ToArray()).view(size, RotaryDim / 2).to(device).DetachFromDisposeScope();
        sin = tensor(angles.Select(MathF.Sin).ToArray()).view(size, RotaryDim / 2).to(device).DetachFromDisposeScope();
    }
}
