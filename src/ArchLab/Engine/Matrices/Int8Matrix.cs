using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;

namespace ArchLab.Engine.Matrices;

/// <summary>
/// Symmetric int8 weights with one float32 scale per group of <see cref="GroupSize"/> (32) consecutive weights of a row
/// (llama.cpp's Q8_0 idea): scale = max |w| / 127 over the group, q = round(w / scale). A row's last cols % 32 columns
/// form one shorter group. In registers each 16 (AVX-512) or 8 (AVX2) int8 weights are sign-extended and converted to
/// float32 and multiplied into a per-group sum, which is then scaled into the row's total. x stays float32 (no activation
/// quantisation), so the only error is the weights' rounding, at most scale/2 per weight.
/// <para>Stored in <see cref="RowBlocks{T}"/> whose tiles are the groups (8 rows × 32 columns, 256 bytes), the scales
/// beside them in the same order (8 per tile), so that a product reads both front to back. The short last group is
/// kept dequantized, as float32, in the blocks' tail.</para>
/// </summary>
public sealed class Int8Matrix : BlockedMatrix<sbyte>
{
    public const int GroupSize = 32;

    readonly float[] scales; // [blocks, tiles, 8]: the scale of each row's group in each tile, padding rows 0

    public Int8Matrix(int rows, int cols, float[] values, float[]? bias) : this(Quantise(rows, cols, values), bias) { }

    Int8Matrix((RowBlocks<sbyte> Packed, float[] Scales) quantised, float[]? bias) : base(quantised.Packed, bias) =>
        scales = quantised.Scales;

    static (RowBlocks<sbyte>, float[]) Quantise(int rows, int cols, float[] values)
    {
        if (values.Length != (long)rows * cols) throw new ArgumentException($"expected {rows}×{cols} weights, got {values.Length}");
        int tiles = cols / GroupSize, blocks = (rows + RowBlocks<sbyte>.BlockRows - 1) / RowBlocks<sbyte>.BlockRows;
        var scales = new float[blocks * tiles * RowBlocks<sbyte>.BlockRows];
        var packed = new RowBlocks<sbyte>(rows, cols, GroupSize, GroupSize, values,
            (r, t, group, q) => scales[RowBlocks<sbyte>.BlockOrder(r, t, tiles)] = Quantise(group, q),
            (columns, stored) =>
            {
                Span<sbyte> q = stackalloc sbyte[columns.Length];
                float scale = Quantise(columns, q);
                for (int c = 0; c < columns.Length; c++) stored[c] = q[c] * scale;
            });
        return (packed, scales);
    }

    /// <summary>q = round(w / scale) with scale = max |w| / 127; returns the scale.</summary>
    static float Quantise(ReadOnlySpan<float> group, Span<sbyte> q)
    {
        float max = 0;
        foreach (float v in group) max = Math.Max(max, Math.Abs(v));
        float scale = max / 127f, inverse = scale == 0 ? 0 : 1 / scale;
        for (int i = 0; i < group.Length; i++) q[i] = (sbyte)Math.Clamp(MathF.Round(group[i] * inverse), -127, 127);
        return scale;
    }

    public override WeightFormat Format => WeightFormat.Int8;
    public override long Bytes => Packed.PackedValues + 4L * scales.Length + 4L * Packed.TailValues + 4L * (Bias?.Length ?? 0);

    /// <summary>The weight as stored: q·scale.</summary>
    public float Dequantized(int row, int col)
    {
        int t = col / GroupSize;
        if (t >= Packed.Tiles) return Packed.Tail(row, col - Packed.Tiles * GroupSize);
        return Packed.Slice(row, t)[col % GroupSize] * scales[RowBlocks<sbyte>.BlockOrder(row, t, Packed.Tiles)];
    }

    protected override unsafe Vector256<float> DotBlock(int k, ref sbyte block, ref float x, int tiles, byte* end)
    {
        // the block's scales: its tiles' 8 each, in order (none when the row is shorter than a group)
        ref float blockScales = ref Unsafe.Add(ref MemoryMarshal.GetArrayDataReference(scales), k * tiles * RowBlocks<sbyte>.BlockRows);
        if (Simd.Wide) return Dot512(ref block, ref blockScales, ref x, tiles, end);
        if (Avx2.IsSupported && Fma.IsSupported) return Dot256(ref block, ref blockScales, ref x, tiles, end);
        return DotScalar(ref block, ref blockScales, ref x, tiles);
    }

    /// <summary>The same sums without vector instructions (CPUs without AVX2).</summary>
    static Vector256<float> DotScalar(ref sbyte block, ref float scale, ref float x, int tiles)
    {
        Span<float> sums = stackalloc float[RowBlocks<sbyte>.BlockRows];
        for (int t = 0; t < tiles; t++)
            for (int i = 0; i < sums.Length; i++)
            {
                float group = 0;
                for (int c = 0; c < GroupSize; c++)
                    group += Unsafe.Add(ref block, 256 * t + GroupSize * i + c) * Unsafe.Add(ref x, GroupSize * t + c);
                sums[i] += group * Unsafe.Add(ref scale, 8 * t + i);
            }
        return Vector256.Create<float>(sums);
    }

    /// <summary>The dot products of a block's 8 rows with x, one group (tile) at a time, with 512-bit vectors;
    /// prefetches ahead up to <paramref name="end"/> unless it is null. (No calls or static reads in the loop: see
    /// Float32Matrix.Dot16.)</summary>
    [MethodImpl(MethodImplOptions.NoInlining | MethodImplOptions.AggressiveOptimization)]
    static unsafe Vector256<float> Dot512(ref sbyte block, ref float scale, ref float x, int tiles, byte* end)
    {
        Vector512<float> a0 = default, a1 = default, a2 = default, a3 = default, a4 = default, a5 = default, a6 = default, a7 = default;
        for (int t = 0; t < tiles; t++)
        {
            ref sbyte w = ref Unsafe.Add(ref block, 256 * t);
            ref float s = ref Unsafe.Add(ref scale, 8 * t);
            if (end != null) Prefetch256((byte*)Unsafe.AsPointer(ref w) + PrefetchDistance, end);
            var x0 = Vector512.LoadUnsafe(ref x, (nuint)(32 * t));
            var x1 = Vector512.LoadUnsafe(ref x, (nuint)(32 * t + 16));
            a0 = Group(ref w, x0, x1, s, a0);
            a1 = Group(ref Unsafe.Add(ref w, 32), x0, x1, Unsafe.Add(ref s, 1), a1);
            a2 = Group(ref Unsafe.Add(ref w, 64), x0, x1, Unsafe.Add(ref s, 2), a2);
            a3 = Group(ref Unsafe.Add(ref w, 96), x0, x1, Unsafe.Add(ref s, 3), a3);
            a4 = Group(ref Unsafe.Add(ref w, 128), x0, x1, Unsafe.Add(ref s, 4), a4);
            a5 = Group(ref Unsafe.Add(ref w, 160), x0, x1, Unsafe.Add(ref s, 5), a5);
            a6 = Group(ref Unsafe.Add(ref w, 192), x0, x1, Unsafe.Add(ref s, 6), a6);
            a7 = Group(ref Unsafe.Add(ref w, 224), x0, x1, Unsafe.Add(ref s, 7), a7);
        }
        return Simd.SumEach(a0.GetLower() + a0.GetUpper(), a1.GetLower() + a1.GetUpper(), a2.GetLower() + a2.GetUpper(),
            a3.GetLower() + a3.GetUpper(), a4.GetLower() + a4.GetUpper(), a5.GetLower() + a5.GetUpper(),
            a6.GetLower() + a6.GetUpper(), a7.GetLower() + a7.GetUpper());
    }

    /// <summary>a + scale · (w[0..16)·x0 + w[16..32)·x1).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    static Vector512<float> Group(ref sbyte w, Vector512<float> x0, Vector512<float> x1, float scale, Vector512<float> a)
    {
        var g = Widen16(ref w, 0) * x0;
        g = Avx512F.FusedMultiplyAdd(Widen16(ref w, 16), x1, g);
        return Avx512F.FusedMultiplyAdd(g, Vector512.Create(scale), a);
    }

    /// <summary>As <see cref="Dot512"/> with 256-bit vectors (four of 8 weights per group).</summary>
    [MethodImpl(MethodImplOptions.NoInlining | MethodImplOptions.AggressiveOptimization)]
    static unsafe Vector256<float> Dot256(ref sbyte block, ref float scale, ref float x, int tiles, byte* end)
    {
        Vector256<float> a0 = default, a1 = default, a2 = default, a3 = default, a4 = default, a5 = default, a6 = default, a7 = default;
        for (int t = 0; t < tiles; t++)
        {
            ref sbyte w = ref Unsafe.Add(ref block, 256 * t);
            ref float s = ref Unsafe.Add(ref scale, 8 * t);
            if (end != null) Prefetch256((byte*)Unsafe.AsPointer(ref w) + PrefetchDistance, end);
            ref float xt = ref Unsafe.Add(ref x, 32 * t);
            a0 = Group(ref w, ref xt, s, a0);
            a1 = Group(ref Unsafe.Add(ref w, 32), ref xt, Unsafe.Add(ref s, 1), a1);
            a2 = Group(ref Unsafe.Add(ref w, 64), ref xt, Unsafe.Add(ref s, 2), a2);
            a3 = Group(ref Unsafe.Add(ref w, 96), ref xt, Unsafe.Add(ref s, 3), a3);
            a4 = Group(ref Unsafe.Add(ref w, 128), ref xt, Unsafe.Add(ref s, 4), a4);
            a5 = Group(ref Unsafe.Add(ref w, 160), ref xt, Unsafe.Add(ref s, 5), a5);
            a6 = Group(ref Unsafe.Add(ref w, 192), ref xt, Unsafe.Add(ref s, 6), a6);
            a7 = Group(ref Unsafe.Add(ref w, 224), ref xt, Unsafe.Add(ref s, 7), a7);
        }
        return Simd.SumEach(a0, a1, a2, a3, a4, a5, a6, a7);
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    static Vector256<float> Group(ref sbyte w, ref float x, float scale, Vector256<float> a)
    {
        var g = Widen8(ref w, 0) * Vector256.LoadUnsafe(ref x);
        g = Fma.MultiplyAdd(Widen8(ref w, 8), Vector256.LoadUnsafe(ref x, 8), g);
        g = Fma.MultiplyAdd(Widen8(ref w, 16), Vector256.LoadUnsafe(ref x, 16), g);
        g = Fma.MultiplyAdd(Widen8(ref w, 24), Vector256.LoadUnsafe(ref x, 24), g);
        return Fma.MultiplyAdd(g, Vector256.Create(scale), a);
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    static Vector512<float> Widen16(ref sbyte w, int c) =>
        Avx512F.ConvertToVector512Single(Avx512F.ConvertToVector512Int32(Vector128.LoadUnsafe(ref w, (nuint)c)));

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    static Vector256<float> Widen8(ref sbyte w, int c) =>
        Avx.ConvertToVector256Single(Avx2.ConvertToVector256Int32(
            Vector128.CreateScalarUnsafe(Unsafe.ReadUnaligned<long>(ref Unsafe.As<sbyte, byte>(ref Unsafe.Add(ref w, c)))).AsSByte()));
}
