using TensorPrimitives = System.Numerics.Tensors.TensorPrimitives;
using System.Runtime.CompilerServices;
using ArchLab.Models;
using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace ArchLab.Engine;

/// <summary>RMSNorm (x·rsqrt(mean x² + eps)·w) or LayerNorm ((x − mean)·rsqrt(var + eps)·w + b) over each row, float32.</summary>
public sealed class LeanNorm
{
    readonly float[] weight;
    readonly float[]? bias;
    readonly float eps;
    readonly bool layerNorm;

    LeanNorm(float[] weight, float[]? bias, double eps, bool layerNorm)
    {
        this.weight = weight;
        this.bias = bias;
        this.eps = (float)eps;
        this.layerNorm = layerNorm;
    }

    public int Dim => weight.Length;

    public static LeanNorm From(nn.Module<Tensor, Tensor> norm) => norm switch
    {
        RmsNorm rms => new LeanNorm(LeanBuilder.Vector(rms.weight), null, rms.Eps, layerNorm: false),
        LayerNorm ln => new LeanNorm(LeanBuilder.Vector(ln.weight!), ln.bias is null ? null : LeanBuilder.Vector(ln.bias), ln.eps, layerNorm: true),
        _ => throw new NotSupportedException($"the lean engine has no {norm.GetType().Name}"),
    };

    /// <summary>y[b] = norm(x[b]) for each of <paramref name="batch"/> rows (y may be x).</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)] // SIMD code: optimised from the first call, not after tiering
    public void Apply(ReadOnlySpan<float> x, Span<float> y, int batch)
    {
        int n = weight.Length;
        for (int b = 0; b < batch; b++)
        {
            var xs = x.Slice(b * n, n);
            var ys = y.Slice(b * n, n);
            if (layerNorm)
            {
                float mean = TensorPrimitives.Sum(xs) / n;
                TensorPrimitives.Subtract(xs, mean, ys);
                float inverse = 1 / MathF.Sqrt(TensorPrimitives.SumOfSquares(ys) / n + eps);
                TensorPrimitives.Multiply(ys, inverse, ys);
                if (bias is null) TensorPrimitives.Multiply(ys, weight, ys);
                else TensorPrimitives.MultiplyAdd(ys, weight, bias, ys);
            }
            else
            {
                float inverse = 1 / MathF.Sqrt(TensorPrimitives.SumOfSquares(xs) / n + eps);
                TensorPrimitives.Multiply(xs, inverse, ys);
                TensorPrimitives.Multiply(ys, weight, ys);
            }
        }
    }
}
