using System.Numerics.Tensors;
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using System.Runtime.Intrinsics;

namespace ArchLab.Engine;

/// <summary>
/// The few short-vector loops the engine needs in its inner loops (a dot product of a head's 32–128 values, y += a·x),
/// written once with the widest vector the CPU accelerates (Vector512, else Vector256, else scalar), chosen at run time.
/// Longer element-wise work goes through <see cref="TensorPrimitives"/>.
/// </summary>
public static class Simd
{
    public static readonly bool Wide = Vector512.IsHardwareAccelerated;
    public static readonly bool Narrow = Vector256.IsHardwareAccelerated;

    /// <summary>Σ a[i]·b[i] for i &lt; n.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static float Dot(ref float a, ref float b, int n)
    {
        int i = 0;
        float sum = 0;
        if (Wide && n >= 16)
        {
            var acc = Vector512<float>.Zero;
            for (; i <= n - 16; i += 16)
                acc = Vector512.FusedMultiplyAdd(Vector512.LoadUnsafe(ref a, (nuint)i), Vector512.LoadUnsafe(ref b, (nuint)i), acc);
            sum = Vector512.Sum(acc);
        }
        else if (Narrow && n >= 8)
        {
            var acc = Vector256<float>.Zero;
            for (; i <= n - 8; i += 8)
                acc = Vector256.FusedMultiplyAdd(Vector256.LoadUnsafe(ref a, (nuint)i), Vector256.LoadUnsafe(ref b, (nuint)i), acc);
            sum = Vector256.Sum(acc);
        }
        for (; i < n; i++) sum += Unsafe.Add(ref a, i) * Unsafe.Add(ref b, i);
        return sum;
    }

    /// <summary>y[i] += alpha·x[i] for i &lt; n.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static void Axpy(float alpha, ref float x, ref float y, int n)
    {
        int i = 0;
        if (Wide)
        {
            var a = Vector512.Create(alpha);
            for (; i <= n - 16; i += 16)
                Vector512.FusedMultiplyAdd(a, Vector512.LoadUnsafe(ref x, (nuint)i), Vector512.LoadUnsafe(ref y, (nuint)i)).StoreUnsafe(ref y, (nuint)i);
        }
        else if (Narrow)
        {
            var a = Vector256.Create(alpha);
            for (; i <= n - 8; i += 8)
                Vector256.FusedMultiplyAdd(a, Vector256.LoadUnsafe(ref x, (nuint)i), Vector256.LoadUnsafe(ref y, (nuint)i)).StoreUnsafe(ref y, (nuint)i);
        }
        for (; i < n; i++) Unsafe.Add(ref y, i) += alpha * Unsafe.Add(ref x, i);
    }

    /// <summary>A selective-scan row: h[i] = exp(delta·a[i])·h[i] + dx·b[i] for i &lt; n, then returns Σ h[i]·c[i].</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static float ScanRow(ref float h, ref float a, float delta, ref float b, ref float c, float dx, int n)
    {
        int i = 0;
        float sum = 0;
        if (Wide && n >= 16)
        {
            var acc = Vector512<float>.Zero;
            var scale = Vector512.Create(dx);
            var step = Vector512.Create(delta);
            for (; i <= n - 16; i += 16)
            {
                var decay = Vector512.Exp(Vector512.LoadUnsafe(ref a, (nuint)i) * step);
                var hv = Vector512.FusedMultiplyAdd(Vector512.LoadUnsafe(ref b, (nuint)i), scale, decay * Vector512.LoadUnsafe(ref h, (nuint)i));
                hv.StoreUnsafe(ref h, (nuint)i);
                acc = Vector512.FusedMultiplyAdd(hv, Vector512.LoadUnsafe(ref c, (nuint)i), acc);
            }
            sum = Vector512.Sum(acc);
        }
        else if (Narrow && n >= 8)
        {
            var acc = Vector256<float>.Zero;
            var scale = Vector256.Create(dx);
            var step = Vector256.Create(delta);
            for (; i <= n - 8; i += 8)
            {
                var decay = Vector256.Exp(Vector256.LoadUnsafe(ref a, (nuint)i) * step);
                var hv = Vector256.FusedMultiplyAdd(Vector256.LoadUnsafe(ref b, (nuint)i), scale, decay * Vector256.LoadUnsafe(ref h, (nuint)i));
                hv.StoreUnsafe(ref h, (nuint)i);
                acc = Vector256.FusedMultiplyAdd(hv, Vector256.LoadUnsafe(ref c, (nuint)i), acc);
            }
            sum = Vector256.Sum(acc);
        }
        for (; i < n; i++)
        {
            float hv = MathF.Exp(Unsafe.Add(ref a, i) * delta) * Unsafe.Add(ref h, i) + dx * Unsafe.Add(ref b, i);
            Unsafe.Add(ref h, i) = hv;
            sum += hv * Unsafe.Add(ref c, i);
        }
        return sum;
    }

    /// <summary>
    /// scores[t] = scale · Σ_d q[d]·kT[d·stride + t] for t &lt; scores.Length: the dot products of q with keys stored
    /// transposed (one row per dimension), 16 or 8 keys per vector, so no horizontal sum is needed.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static void TransposedDots(ref float q, ref float kT, int stride, int dims, Span<float> scores, float scale)
    {
        int n = scores.Length, t = 0;
        ref float s = ref MemoryMarshal.GetReference(scores);
        if (Wide)
            for (; t <= n - 16; t += 16)
            {
                var acc = Vector512<float>.Zero;
                for (int d = 0; d < dims; d++)
                    acc = Vector512.FusedMultiplyAdd(Vector512.Create(Unsafe.Add(ref q, d)), Vector512.LoadUnsafe(ref kT, (nuint)((long)d * stride + t)), acc);
                (acc * scale).StoreUnsafe(ref s, (nuint)t);
            }
        if (Narrow)
            for (; t <= n - 8; t += 8)
            {
                var acc = Vector256<float>.Zero;
                for (int d = 0; d < dims; d++)
                    acc = Vector256.FusedMultiplyAdd(Vector256.Create(Unsafe.Add(ref q, d)), Vector256.LoadUnsafe(ref kT, (nuint)((long)d * stride + t)), acc);
                (acc * scale).StoreUnsafe(ref s, (nuint)t);
            }
        for (; t < n; t++)
        {
            float sum = 0;
            for (int d = 0; d < dims; d++) sum += Unsafe.Add(ref q, d) * Unsafe.Add(ref kT, (nint)((long)d * stride + t));
            Unsafe.Add(ref s, t) = sum * scale;
        }
    }

    /// <summary>output[c] = Σ_t weights[t]·rows[t·width + c] for c &lt; width (a softmax-weighted sum of value rows),
    /// accumulated in registers 16 or 8 columns at a time.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static void WeightedRowSum(ReadOnlySpan<float> weights, ref float rows, int width, Span<float> output)
    {
        int n = weights.Length, c = 0;
        ref float w = ref MemoryMarshal.GetReference(weights);
        ref float o = ref MemoryMarshal.GetReference(output);
        if (Wide)
            for (; c <= width - 16; c += 16)
            {
                var acc = Vector512<float>.Zero;
                for (int t = 0; t < n; t++)
                    acc = Vector512.FusedMultiplyAdd(Vector512.Create(Unsafe.Add(ref w, t)), Vector512.LoadUnsafe(ref rows, (nuint)((long)t * width + c)), acc);
                acc.StoreUnsafe(ref o, (nuint)c);
            }
        if (Narrow)
            for (; c <= width - 8; c += 8)
            {
                var acc = Vector256<float>.Zero;
                for (int t = 0; t < n; t++)
                    acc = Vector256.FusedMultiplyAdd(Vector256.Create(Unsafe.Add(ref w, t)), Vector256.LoadUnsafe(ref rows, (nuint)((long)t * width + c)), acc);
                acc.StoreUnsafe(ref o, (nuint)c);
            }
        for (; c < width; c++)
        {
            float sum = 0;
            for (int t = 0; t < n; t++) sum += Unsafe.Add(ref w, t) * Unsafe.Add(ref rows, (nint)((long)t * width + c));
            Unsafe.Add(ref o, c) = sum;
        }
    }

    public static float Dot(ReadOnlySpan<float> a, ReadOnlySpan<float> b) =>
        Dot(ref MemoryMarshal.GetReference(a), ref MemoryMarshal.GetReference(b), Math.Min(a.Length, b.Length));
}
