using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;

namespace ArchLab.Engine.Matrices;

/// <summary>
/// Float32 weights, repacked so that a product reads them front to back in one stream. Rows go in blocks of 8; within a
/// block, columns go in tiles of one vector (16 floats with AVX-512, 8 otherwise), and a tile holds its 8 rows' slices one
/// after another (<see cref="RowBlocks{T}"/>). Eight FMA chains, one per row, share each load of x.
/// <para>Why: stored row-major, 8 rows are 8 streams 4·cols bytes apart. One thread read a stories15M-sized matrix
/// (60.8 MB, from DRAM) 11–14 % faster in this layout, prefetching 16 KiB ahead (experiments/decode-engine/layout-probe);
/// the whole stories15M-shape step ran 1.18× faster on one thread and 1.25× on two (medians of 16 alternating pairs,
/// 2026-12-05). From L3 (a dim-128 model) it is no faster. llama.cpp repacks its weights for the same reason.</para>
/// </summary>
public sealed class Float32Matrix(int rows, int cols, float[] weights, float[]? bias)
    : BlockedMatrix<float>(Pack(rows, cols, weights), bias)
{
    static RowBlocks<float> Pack(int rows, int cols, float[] weights)
    {
        if (weights.Length != (long)rows * cols) throw new ArgumentException($"expected {rows}×{cols} weights, got {weights.Length}");
        int width = Simd.Wide && cols >= 16 ? 16 : 8; // narrow matrices (Mamba's dt_proj: 8 columns) take 256-bit tiles
        return new RowBlocks<float>(rows, cols, width, width, weights, (_, _, columns, tile) => columns.CopyTo(tile),
            (columns, stored) => columns.CopyTo(stored));
    }

    public override WeightFormat Format => WeightFormat.Float32;
    public override long Bytes => 4L * Packed.StoredValues + 4L * (Bias?.Length ?? 0);

    protected override unsafe Vector256<float> DotBlock(int k, ref float block, ref float x, int tiles, byte* end) =>
        Packed.Width == 16 ? Dot16(ref block, ref x, tiles, end) : Dot8(ref block, ref x, tiles, end);

    /// <summary>The dot products of a block's 8 rows (<paramref name="tiles"/> tiles of 8 × 16) with x, with 512-bit
    /// vectors, prefetching ahead up to <paramref name="end"/> unless it is null. Nothing in the loop may be a call or read
    /// a static field: a static readonly read there (with its class-initialisation check) made the JIT keep the eight sums
    /// on the stack, 1.5× slower.</summary>
    [MethodImpl(MethodImplOptions.NoInlining | MethodImplOptions.AggressiveOptimization)]
    static unsafe Vector256<float> Dot16(ref float block, ref float x, int tiles, byte* end)
    {
        Vector512<float> a0 = default, a1 = default, a2 = default, a3 = default, a4 = default, a5 = default, a6 = default, a7 = default;
        for (int t = 0; t < tiles; t++)
        {
            ref float w = ref Unsafe.Add(ref block, 128 * t);
            if (end != null) Prefetch512((byte*)Unsafe.AsPointer(ref w) + PrefetchDistance, end);
            var xv = Vector512.LoadUnsafe(ref x, (nuint)(16 * t));
            a0 = Vector512.FusedMultiplyAdd(Vector512.LoadUnsafe(ref w), xv, a0);
            a1 = Vector512.FusedMultiplyAdd(Vector512.LoadUnsafe(ref w, 16), xv, a1);
            a2 = Vector512.FusedMultiplyAdd(Vector512.LoadUnsafe(ref w, 32), xv, a2);
            a3 = Vector512.FusedMultiplyAdd(Vector512.LoadUnsafe(ref w, 48), xv, a3);
            a4 = Vector512.FusedMultiplyAdd(Vector512.LoadUnsafe(ref w, 64), xv, a4);
            a5 = Vector512.FusedMultiplyAdd(Vector512.LoadUnsafe(ref w, 80), xv, a5);
            a6 = Vector512.FusedMultiplyAdd(Vector512.LoadUnsafe(ref w, 96), xv, a6);
            a7 = Vector512.FusedMultiplyAdd(Vector512.LoadUnsafe(ref w, 112), xv, a7);
        }
        return Simd.SumEach(a0.GetLower() + a0.GetUpper(), a1.GetLower() + a1.GetUpper(), a2.GetLower() + a2.GetUpper(),
            a3.GetLower() + a3.GetUpper(), a4.GetLower() + a4.GetUpper(), a5.GetLower() + a5.GetUpper(),
            a6.GetLower() + a6.GetUpper(), a7.GetLower() + a7.GetUpper());
    }

    /// <summary>As <see cref="Dot16"/> with 256-bit vectors (tiles of 8 columns).</summary>
    [MethodImpl(MethodImplOptions.NoInlining | MethodImplOptions.AggressiveOptimization)]
    static unsafe Vector256<float> Dot8(ref float block, ref float x, int tiles, byte* end)
    {
        Vector256<float> a0 = default, a1 = default, a2 = default, a3 = default, a4 = default, a5 = default, a6 = default, a7 = default;
        for (int t = 0; t < tiles; t++)
        {
            ref float w = ref Unsafe.Add(ref block, 64 * t);
            if (end != null) Prefetch256((byte*)Unsafe.AsPointer(ref w) + PrefetchDistance, end);
            var xv = Vector256.LoadUnsafe(ref x, (nuint)(8 * t));
            a0 = Vector256.FusedMultiplyAdd(Vector256.LoadUnsafe(ref w), xv, a0);
            a1 = Vector256.FusedMultiplyAdd(Vector256.LoadUnsafe(ref w, 8), xv, a1);
            a2 = Vector256.FusedMultiplyAdd(Vector256.LoadUnsafe(ref w, 16), xv, a2);
            a3 = Vector256.FusedMultiplyAdd(Vector256.LoadUnsafe(ref w, 24), xv, a3);
            a4 = Vector256.FusedMultiplyAdd(Vector256.LoadUnsafe(ref w, 32), xv, a4);
            a5 = Vector256.FusedMultiplyAdd(Vector256.LoadUnsafe(ref w, 40), xv, a5);
            a6 = Vector256.FusedMultiplyAdd(Vector256.LoadUnsafe(ref w, 48), xv, a6);
            a7 = Vector256.FusedMultiplyAdd(Vector256.LoadUnsafe(ref w, 56), xv, a7);
        }
        return Simd.SumEach(a0, a1, a2, a3, a4, a5, a6, a7);
    }
}
