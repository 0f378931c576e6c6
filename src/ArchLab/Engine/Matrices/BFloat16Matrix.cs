using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;

namespace ArchLab.Engine.Matrices;

/// <summary>
/// bfloat16 weights (the top 16 bits of a float32, rounded to nearest even), widened to float32 in registers. Half the
/// bytes of float32, so a bandwidth-bound product gets up to twice as fast; x stays float32. (.NET 10 exposes no intrinsic
/// for AVX-512 BF16's vdpbf16ps, which would also round x to bf16; widening keeps x exact.)
/// <para>Stored in <see cref="RowBlocks{T}"/> of 32-bit pairs: a tile covers 2·V columns (V = 16 with AVX-512, 8 with
/// AVX2) and value j of a row's tile holds column j in its low half and column V + j in its high half. One load then
/// gives two float32 vectors with one shift (low halves) and one mask (high halves) — no conversion instructions.</para>
/// </summary>
public sealed class BFloat16Matrix(int rows, int cols, float[] values, float[]? bias)
    : BlockedMatrix<uint>(Pack(rows, cols, values), bias)
{
    static RowBlocks<uint> Pack(int rows, int cols, float[] values)
    {
        if (values.Length != (long)rows * cols) throw new ArgumentException($"expected {rows}×{cols} weights, got {values.Length}");
        int vector = Simd.Wide && cols >= 32 ? 16 : 8;
        return new RowBlocks<uint>(rows, cols, 2 * vector, vector, values, PackPairs, (columns, stored) =>
        {
            for (int c = 0; c < columns.Length; c++) stored[c] = Widen(Round(columns[c]));
        });
    }

    /// <summary>tile[j] = bf16(columns[j]) | bf16(columns[V + j]) &lt;&lt; 16.</summary>
    static void PackPairs(int r, int t, ReadOnlySpan<float> columns, Span<uint> tile)
    {
        for (int j = 0; j < tile.Length; j++) tile[j] = Round(columns[j]) | (uint)Round(columns[tile.Length + j]) << 16;
    }

    public override WeightFormat Format => WeightFormat.BFloat16;
    // Two bf16 per stored uint; the tail columns are kept as float32.
    public override long Bytes => 4L * Packed.StoredValues + 4L * (Bias?.Length ?? 0);

    /// <summary>float32 → bfloat16 bits, round to nearest even (NaN stays NaN).</summary>
    public static ushort Round(float value)
    {
        uint bits = BitConverter.SingleToUInt32Bits(value);
        if (float.IsNaN(value)) return (ushort)((bits >> 16) | 0x40);
        return (ushort)((bits + 0x7FFF + ((bits >> 16) & 1)) >> 16);
    }

    public static float Widen(ushort bits) => BitConverter.UInt32BitsToSingle((uint)bits << 16);

    protected override unsafe Vector256<float> DotBlock(int k, ref uint block, ref float x, int tiles, byte* end) =>
        Packed.Width == 16 ? Dot32(ref block, ref x, tiles, end) : Dot16(ref block, ref x, tiles, end);

    /// <summary>The dot products of a block's 8 rows (tiles of 8 × 32 columns) with x, with 512-bit vectors; prefetches
    /// ahead up to <paramref name="end"/> unless it is null. (No calls or static reads in the loop: see Float32Matrix.Dot16.)</summary>
    [MethodImpl(MethodImplOptions.NoInlining | MethodImplOptions.AggressiveOptimization)]
    static unsafe Vector256<float> Dot32(ref uint block, ref float x, int tiles, byte* end)
    {
        var high = Vector512.Create(0xFFFF0000u);
        Vector512<float> a0 = default, a1 = default, a2 = default, a3 = default, a4 = default, a5 = default, a6 = default, a7 = default;
        for (int t = 0; t < tiles; t++)
        {
            ref uint w = ref Unsafe.Add(ref block, 128 * t);
            if (end != null) Prefetch512((byte*)Unsafe.AsPointer(ref w) + PrefetchDistance, end);
            var x0 = Vector512.LoadUnsafe(ref x, (nuint)(32 * t));
            var x1 = Vector512.LoadUnsafe(ref x, (nuint)(32 * t + 16));
            a0 = Pair(Vector512.LoadUnsafe(ref w), x0, x1, high, a0);
            a1 = Pair(Vector512.LoadUnsafe(ref w, 16), x0, x1, high, a1);
            a2 = Pair(Vector512.LoadUnsafe(ref w, 32), x0, x1, high, a2);
            a3 = Pair(Vector512.LoadUnsafe(ref w, 48), x0, x1, high, a3);
            a4 = Pair(Vector512.LoadUnsafe(ref w, 64), x0, x1, high, a4);
            a5 = Pair(Vector512.LoadUnsafe(ref w, 80), x0, x1, high, a5);
            a6 = Pair(Vector512.LoadUnsafe(ref w, 96), x0, x1, high, a6);
            a7 = Pair(Vector512.LoadUnsafe(ref w, 112), x0, x1, high, a7);
        }
        return Simd.SumEach(a0.GetLower() + a0.GetUpper(), a1.GetLower() + a1.GetUpper(), a2.GetLower() + a2.GetUpper(),
            a3.GetLower() + a3.GetUpper(), a4.GetLower() + a4.GetUpper(), a5.GetLower() + a5.GetUpper(),
            a6.GetLower() + a6.GetUpper(), a7.GetLower() + a7.GetUpper());
    }

    /// <summary>a + low halves · x0 + high halves · x1.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    static Vector512<float> Pair(Vector512<uint> w, Vector512<float> x0, Vector512<float> x1, Vector512<uint> high, Vector512<float> a) =>
        Vector512.FusedMultiplyAdd((w & high).AsSingle(), x1, Vector512.FusedMultiplyAdd(Vector512.ShiftLeft(w, 16).AsSingle(), x0, a));

    /// <summary>As <see cref="Dot32"/> with 256-bit vectors (tiles of 8 × 16 columns).</summary>
    [MethodImpl(MethodImplOptions.NoInlining | MethodImplOptions.AggressiveOptimization)]
    static unsafe Vector256<float> Dot16(ref uint block, ref float x, int tiles, byte* end)
    {
        var high = Vector256.Create(0xFFFF0000u);
        Vector256<float> a0 = default, a1 = default, a2 = default, a3 = default, a4 = default, a5 = default, a6 = default, a7 = default;
        for (int t = 0; t < tiles; t++)
        {
            ref uint w = ref Unsafe.Add(ref block, 64 * t);
            if (end != null) Prefetch256((byte*)Unsafe.AsPointer(ref w) + PrefetchDistance, end);
            var x0 = Vector256.LoadUnsafe(ref x, (nuint)(16 * t));
            var x1 = Vector256.LoadUnsafe(ref x, (nuint)(16 * t + 8));
            a0 = Pair(Vector256.LoadUnsafe(ref w), x0, x1, high, a0);
            a1 = Pair(Vector256.LoadUnsafe(ref w, 8), x0, x1, high, a1);
            a2 = Pair(Vector256.LoadUnsafe(ref w, 16), x0, x1, high, a2);
            a3 = Pair(Vector256.LoadUnsafe(ref w, 24), x0, x1, high, a3);
            a4 = Pair(Vector256.LoadUnsafe(ref w, 32), x0, x1, high, a4);
            a5 = Pair(Vector256.LoadUnsafe(ref w, 40), x0, x1, high, a5);
            a6 = Pair(Vector256.LoadUnsafe(ref w, 48), x0, x1, high, a6);
            a7 = Pair(Vector256.LoadUnsafe(ref w, 56), x0, x1, high, a7);
        }
        return Simd.SumEach(a0, a1, a2, a3, a4, a5, a6, a7);
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    static Vector256<float> Pair(Vector256<uint> w, Vector256<float> x0, Vector256<float> x1, Vector256<uint> high, Vector256<float> a) =>
        Vector256.FusedMultiplyAdd((w & high).AsSingle(), x1, Vector256.FusedMultiplyAdd(Vector256.ShiftLeft(w, 16).AsSingle(), x0, a));
}
