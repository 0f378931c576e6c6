using TorchSharp;
using static TorchSharp.torch;

namespace ArchLab.Runtime;

/// <summary>
/// Mixed precision for CPU training, the part of autocast that matters here: inside <see cref="Bf16"/>, every
/// <see cref="Models.Projection"/> multiplies in bfloat16 (this CPU's avx512_bf16 runs bf16 matmuls ≈2.4× faster than fp32)
/// and returns float32. Weights, optimizer state, norms, softmax and the loss stay float32.
/// </summary>
public static class Autocast
{
    [ThreadStatic] static bool bf16;

    public static bool IsBf16 => bf16;

    /// <summary>Whether this CPU has bf16 dot-product instructions (Linux: the avx512_bf16 or amx_bf16 flag). Without them
    /// libtorch falls back to a scalar bf16 matmul that is far slower than float32 (measured: ≈1 vs ≈140 GFLOP/s).</summary>
    public static bool CpuHasFastBf16()
    {
        const string cpuinfo = "/proc/cpuinfo";
        if (!File.Exists(cpuinfo)) return true; // unknown: do not warn
        string flags = File.ReadLines(cpuinfo).FirstOrDefault(l => l.StartsWith("flags")) ?? "";
        return flags.Split(' ').Any(f => f is "avx512_bf16" or "amx_bf16");
    }

    /// <summary>Turns bf16 matmuls on (or leaves them off) until the returned scope is disposed.</summary>
    public static IDisposable Bf16(bool enabled = true)
    {
        bool previous = bf16;
        bf16 = enabled;
        return new Restore(() => bf16 = previous);
    }

    /// <summary>x·Wᵀ (+ b): float32 in and out, with the matmul in bf16 inside <see cref="Bf16"/>. x may already be
    /// bf16 (from <see cref="LinearKeepingBf16"/>): then only the weight is cast.</summary>
    public static Tensor Linear(Tensor x, Tensor weight, Tensor? bias = null)
    {
        if (!bf16 || x.dtype is not (ScalarType.Float32 or ScalarType.BFloat16))
            return nn.functional.linear(x, weight, bias);
        using var y16 = LinearKeepingBf16(x, weight, bias);
        return y16.to(ScalarType.Float32);
    }

    /// <summary>As <see cref="Linear"/>, but inside <see cref="Bf16"/> the result stays bf16, as PyTorch's autocast
    /// leaves a linear's output: for a caller whose next operations are elementwise and feed another matmul (SwiGLU's
    /// hidden layer), so that they move half the bytes and skip two casts. Outside it, float32 as usual.</summary>
    public static Tensor LinearKeepingBf16(Tensor x, Tensor weight, Tensor? bias = null)
    {
        if (!bf16 || x.dtype is not (ScalarType.Float32 or ScalarType.BFloat16))
            return nn.functional.linear(x, weight, bias);
        using var scope = NewDisposeScope();
        var x16 = x.dtype == ScalarType.BFloat16 ? x : x.to(ScalarType.BFloat16);
        var y = nn.functional.linear(x16, weight.to(ScalarType.BFloat16), bias?.to(ScalarType.BFloat16));
        return y.MoveToOuterDisposeScope();
    }

    /// <summary>Causal softmax attention of whole sequences (q, k, v [batch, heads, T, headDim]). Outside <see cref="Bf16"/>,
    /// or above <see cref="MaxBf16AttentionLength"/> tokens, libtorch's fused (flash) attention in float32. Inside it,
    /// as PyTorch's autocast runs an explicit attention: q·kᵀ and softmax·v as bf16 matmuls over the whole [T, T] score
    /// matrix, the softmax in bf16 storage (computed in float32 inside the kernel), and the result left in bf16 for the
    /// output projection (<see cref="Linear"/> takes it as it is). Measured on the AVX-512 BF16 machine with
    /// `bench train` (T 256, 2 threads): 1.23× (dim 256) and 1.13× (dim 128) the training tokens/s of the bf16 run with
    /// float32 flash attention; libtorch's bf16 flash attention was slower than its float32 one.</summary>
    public static Tensor CausalAttention(Tensor q, Tensor k, Tensor v)
    {
        long t = q.shape[2];
        if (!bf16 || q.dtype != ScalarType.Float32 || t > MaxBf16AttentionLength)
            return nn.functional.scaled_dot_product_attention(q, k, v, is_casual: true);
        using var scope = NewDisposeScope();
        var q16 = q.to(ScalarType.BFloat16);
        var k16 = k.to(ScalarType.BFloat16);
        var v16 = v.to(ScalarType.BFloat16);
        var scores = matmul(q16, k16.transpose(-2, -1)).mul_(1.0 / Math.Sqrt(q.shape[3]));
        var future = ones(t, t, ScalarType.Bool, q.device).triu(1);
        var weights = scores.masked_fill(future, double.NegativeInfinity).softmax(-1);
        return matmul(weights, v16).MoveToOuterDisposeScope();
    }

    /// <summary>Longest sequence whose bf16 attention materialises its [T, T] scores (<see cref="CausalAttention"/>).</summary>
    public const long MaxBf16AttentionLength = 1024;

    sealed class Restore(Action action) : IDisposable
    {
        public void Dispose() => action();
    }
}
