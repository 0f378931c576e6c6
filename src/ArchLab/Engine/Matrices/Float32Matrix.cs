using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;

namespace ArchLab.Engine.Matrices;

/// <summary>Float32 weights, row-major. Eight rows at a time share each load of x: eight independent FMA chains keep the
/// vector units busy when the weights are in cache (four would wait on the FMA latency); the rest go four, then one.</summary>
public sealed class Float32Matrix : LeanMatrix
{
    readonly float[] weights;
    // Bigger than a few rows: the kernel prefetches the next row block. A decoder's matrices come from L3 or DRAM on every
    // step (a model rarely fits in L2), and this measured 5–10 % faster on a dim-128 model (L3-resident) and 8 % faster
    // on 2 threads at the stories15M shape than prefetching only matrices over 1 MiB (2026-12-05; 1 thread at that shape:
    // within the noise).
    readonly bool streams;

    public Float32Matrix(int rows, int cols, float[] weights, float[]? bias) : base(rows, cols, bias)
    {
        if (weights.Length != (long)rows * cols) throw new ArgumentException($"expected {rows}×{cols} weights, got {weights.Length}");
        this.weights = weights;
        streams = 4L * weights.Length > 4096;
    }

    public override WeightFormat Format => WeightFormat.Float32;
    public override long Bytes => 4L * weights.Length + 4L * (Bias?.Length ?? 0);

    [MethodImpl(MethodImplOptions.AggressiveOptimization)] // SIMD code: optimised from the first call, not after tiering
    protected override void MultiplyRows(ReadOnlySpan<float> x, Span<float> y, int batch, int rowStart, int rowEnd)
    {
        ref float w = ref MemoryMarshal.GetArrayDataReference(weights);
        ref float x0 = ref MemoryMarshal.GetReference(x);
        int n = Cols, r = rowStart;
        if (Simd.Wide)
            for (; r + 8 <= rowEnd; r += 8)
            {
                ref float rows = ref Unsafe.Add(ref w, (nint)r * n);
                for (int b = 0; b < batch; b++)
                    Dot8(ref rows, n, ref Unsafe.Add(ref x0, (nint)b * n), y.Slice(b * Rows + r, 8), streams && b == 0);
            }
        for (; r + 4 <= rowEnd; r += 4)
        {
            ref float rows = ref Unsafe.Add(ref w, (nint)r * n);
            for (int b = 0; b < batch; b++)
            {
                var (s0, s1, s2, s3) = Dot4(ref rows, n, ref Unsafe.Add(ref x0, (nint)b * n));
                int o = b * Rows + r;
                y[o] = s0; y[o + 1] = s1; y[o + 2] = s2; y[o + 3] = s3;
            }
        }
        for (; r < rowEnd; r++)
            for (int b = 0; b < batch; b++)
                y[b * Rows + r] = Simd.Dot(ref Unsafe.Add(ref w, (nint)r * n), ref Unsafe.Add(ref x0, (nint)b * n), n);
        AddBias(y, batch, rowStart, rowEnd);
    }

    /// <summary>Dot products of the 8 rows from w (row length n) with x, into y[0..8), with AVX-512.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    static unsafe void Dot8(ref float w, int n, ref float x, Span<float> y, bool prefetch)
    {
        // With prefetch (a matrix streaming from L3 or DRAM), the next 8 rows (w + 8n) are fetched into cache while these are
        // summed, 512 bytes of them per 16 columns, so that more requests are in flight than the hardware prefetcher makes.
        // (A stale address after the GC moved the array is harmless: a prefetch never faults.)
        byte* next = (byte*)Unsafe.AsPointer(ref Unsafe.Add(ref w, 8 * n));
        Vector512<float> a0 = default, a1 = default, a2 = default, a3 = default, a4 = default, a5 = default, a6 = default, a7 = default;
        int c = 0;
        for (; c <= n - 16; c += 16)
        {
            var xv = Vector512.LoadUnsafe(ref x, (nuint)c);
            ref float wc = ref Unsafe.Add(ref w, c);
            if (prefetch)
            {
                byte* ahead = next + 32 * c;
                for (int line = 0; line < 512; line += 64) Sse.Prefetch0(ahead + line);
            }
            a0 = Vector512.FusedMultiplyAdd(Vector512.LoadUnsafe(ref wc), xv, a0);
            a1 = Vector512.FusedMultiplyAdd(Vector512.LoadUnsafe(ref wc, (nuint)n), xv, a1);
            a2 = Vector512.FusedMultiplyAdd(Vector512.LoadUnsafe(ref wc, (nuint)(2 * n)), xv, a2);
            a3 = Vector512.FusedMultiplyAdd(Vector512.LoadUnsafe(ref wc, (nuint)(3 * n)), xv, a3);
            a4 = Vector512.FusedMultiplyAdd(Vector512.LoadUnsafe(ref wc, (nuint)(4 * n)), xv, a4);
            a5 = Vector512.FusedMultiplyAdd(Vector512.LoadUnsafe(ref wc, (nuint)(5 * n)), xv, a5);
            a6 = Vector512.FusedMultiplyAdd(Vector512.LoadUnsafe(ref wc, (nuint)(6 * n)), xv, a6);
            a7 = Vector512.FusedMultiplyAdd(Vector512.LoadUnsafe(ref wc, (nuint)(7 * n)), xv, a7);
        }
        Span<float> s = [Vector512.Sum(a0), Vector512.Sum(a1), Vector512.Sum(a2), Vector512.Sum(a3),
                         Vector512.Sum(a4), Vector512.Sum(a5), Vector512.Sum(a6), Vector512.Sum(a7)];
        for (; c < n; c++)
        {
            float xc = Unsafe.Add(ref x, c);
            for (int i = 0; i < 8; i++) s[i] += Unsafe.Add(ref w, (nint)i * n + c) * xc;
        }
        s.CopyTo(y);
    }

    /// <summary>Dot products of rows w, w+n, w+2n, w+3n with x (length n).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    static (float, float, float, float) Dot4(ref float w, int n, ref float x)
    {
        ref float w1 = ref Unsafe.Add(ref w, n), w2 = ref Unsafe.Add(ref w, 2 * n), w3 = ref Unsafe.Add(ref w, 3 * n);
        int c = 0;
        float s0 = 0, s1 = 0, s2 = 0, s3 = 0;
        if (Simd.Wide)
        {
            Vector512<float> a0 = default, a1 = default, a2 = default, a3 = default;
            for (; c <= n - 16; c += 16)
            {
                var xv = Vector512.LoadUnsafe(ref x, (nuint)c);
                a0 = Vector512.FusedMultiplyAdd(Vector512.LoadUnsafe(ref w, (nuint)c), xv, a0);
                a1 = Vector512.FusedMultiplyAdd(Vector512.LoadUnsafe(ref w1, (nuint)c), xv, a1);
                a2 = Vector512.FusedMultiplyAdd(Vector512.LoadUnsafe(ref w2, (nuint)c), xv, a2);
                a3 = Vector512.FusedMultiplyAdd(Vector512.LoadUnsafe(ref w3, (nuint)c), xv, a3);
            }
            s0 = Vector512.Sum(a0); s1 = Vector512.Sum(a1); s2 = Vector512.Sum(a2); s3 = Vector512.Sum(a3);
        }
        else if (Simd.Narrow)
        {
            Vector256<float> a0 = default, a1 = default, a2 = default, a3 = default;
            for (; c <= n - 8; c += 8)
            {
                var xv = Vector256.LoadUnsafe(ref x, (nuint)c);
                a0 = Vector256.FusedMultiplyAdd(Vector256.LoadUnsafe(ref w, (nuint)c), xv, a0);
                a1 = Vector256.FusedMultiplyAdd(Vector256.LoadUnsafe(ref w1, (nuint)c), xv, a1);
                a2 = Vector256.FusedMultiplyAdd(Vector256.LoadUnsafe(ref w2, (nuint)c), xv, a2);
                a3 = Vector256.FusedMultiplyAdd(Vector256.LoadUnsafe(ref w3, (nuint)c), xv, a3);
            }
            s0 = Vector256.Sum(a0); s1 = Vector256.Sum(a1); s2 = Vector256.Sum(a2); s3 = Vector256.Sum(a3);
        }
        for (; c < n; c++)
        {
            float xc = Unsafe.Add(ref x, c);
            s0 += Unsafe.Add(ref w, c) * xc; s1 += Unsafe.Add(ref w1, c) * xc;
            s2 += Unsafe.Add(ref w2, c) * xc; s3 += Unsafe.Add(ref w3, c) * xc;
        }
        return (s0, s1, s2, s3);
    }
}
