using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;

namespace ArchLab.Engine.Matrices;

/// <summary>
/// Symmetric int8 weights with one float32 scale per group of <see cref="GroupSize"/> consecutive weights of a row
/// (llama.cpp's Q8_0 idea): scale = max |w| / 127 over the group, q = round(w / scale). In registers each 16 (AVX-512) or
/// 8 (AVX2) int8 weights are sign-extended and converted to float32 and multiplied into a per-group sum, which is then
/// scaled into the row's total. x stays float32 (no activation quantisation), so the only error is the weights' rounding,
/// at most scale/2 per weight.
/// </summary>
public sealed class Int8Matrix : LeanMatrix
{
    /// <summary>The usual group: 32 weights (rows whose length is not a multiple of 32 use one group per row).</summary>
    public const int DefaultGroup = 32;

    readonly sbyte[] weights;
    readonly float[] scales; // [rows, groupsPerRow]
    readonly int groupsPerRow;

    public int GroupSize { get; }

    public Int8Matrix(int rows, int cols, float[] values, float[]? bias) : base(rows, cols, bias)
    {
        GroupSize = cols % DefaultGroup == 0 ? DefaultGroup : cols;
        groupsPerRow = cols / GroupSize;
        weights = new sbyte[values.Length];
        scales = new float[rows * groupsPerRow];
        for (int g = 0; g < scales.Length; g++)
        {
            var group = values.AsSpan(g * GroupSize, GroupSize);
            float max = 0;
            foreach (float v in group) max = Math.Max(max, Math.Abs(v));
            float scale = max / 127f;
            scales[g] = scale;
            float inverse = scale == 0 ? 0 : 1 / scale;
            for (int i = 0; i < GroupSize; i++)
                weights[g * GroupSize + i] = (sbyte)Math.Clamp(MathF.Round(group[i] * inverse), -127, 127);
        }
    }

    public override WeightFormat Format => WeightFormat.Int8;
    public override long Bytes => weights.Length + 4L * scales.Length + 4L * (Bias?.Length ?? 0);

    /// <summary>The weight as stored: q·scale.</summary>
    public float Dequantized(int row, int col) => weights[(long)row * Cols + col] * scales[row * groupsPerRow + col / GroupSize];

    [MethodImpl(MethodImplOptions.AggressiveOptimization)] // SIMD code: optimised from the first call, not after tiering
    protected override void MultiplyRows(ReadOnlySpan<float> x, Span<float> y, int batch, int rowStart, int rowEnd)
    {
        ref sbyte w = ref MemoryMarshal.GetArrayDataReference(weights);
        ref float s = ref MemoryMarshal.GetArrayDataReference(scales);
        ref float x0 = ref MemoryMarshal.GetReference(x);
        int n = Cols, r = rowStart;
        for (; r + 4 <= rowEnd; r += 4)
        {
            ref sbyte rows = ref Unsafe.Add(ref w, (nint)r * n);
            ref float rowScales = ref Unsafe.Add(ref s, r * groupsPerRow);
            for (int b = 0; b < batch; b++)
            {
                var (s0, s1, s2, s3) = Dot4(ref rows, ref rowScales, ref Unsafe.Add(ref x0, (nint)b * n));
                int o = b * Rows + r;
                y[o] = s0; y[o + 1] = s1; y[o + 2] = s2; y[o + 3] = s3;
            }
        }
        for (; r < rowEnd; r++)
            for (int b = 0; b < batch; b++)
            {
                float sum = 0;
                for (int c = 0; c < n; c++) sum += Dequantized(r, c) * Unsafe.Add(ref x0, (nint)b * n + c);
                y[b * Rows + r] = sum;
            }
        AddBias(y, batch, rowStart, rowEnd);
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    static Vector512<float> Widen16(ref sbyte w, int c) =>
        Avx512F.ConvertToVector512Single(Avx512F.ConvertToVector512Int32(Vector128.LoadUnsafe(ref w, (nuint)c)));

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    static Vector256<float> Widen8(ref sbyte w, int c) =>
        Avx.ConvertToVector256Single(Avx2.ConvertToVector256Int32(
            Vector128.CreateScalarUnsafe(Unsafe.ReadUnaligned<long>(ref Unsafe.As<sbyte, byte>(ref Unsafe.Add(ref w, c)))).AsSByte()));

    /// <summary>Dot products of four consecutive rows (starting at w, scales at sc) with x.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    (float, float, float, float) Dot4(ref sbyte w, ref float sc, ref float x)
    {
        int n = Cols, g = GroupSize, groups = groupsPerRow;
        ref sbyte w1 = ref Unsafe.Add(ref w, n), w2 = ref Unsafe.Add(ref w, 2 * n), w3 = ref Unsafe.Add(ref w, 3 * n);
        ref float sc1 = ref Unsafe.Add(ref sc, groups), sc2 = ref Unsafe.Add(ref sc, 2 * groups), sc3 = ref Unsafe.Add(ref sc, 3 * groups);
        float s0 = 0, s1 = 0, s2 = 0, s3 = 0;
        int vectorEnd = 0; // columns [0, vectorEnd) of each group go through vectors, the rest through the scalar tail
        if (Avx512F.IsSupported && g % 16 == 0)
        {
            vectorEnd = g;
            Vector512<float> a0 = default, a1 = default, a2 = default, a3 = default;
            for (int k = 0, c0 = 0; k < groups; k++, c0 += g)
            {
                Vector512<float> g0 = default, g1 = default, g2 = default, g3 = default;
                for (int c = c0; c < c0 + g; c += 16)
                {
                    var xv = Vector512.LoadUnsafe(ref x, (nuint)c);
                    g0 = Avx512F.FusedMultiplyAdd(Widen16(ref w, c), xv, g0);
                    g1 = Avx512F.FusedMultiplyAdd(Widen16(ref w1, c), xv, g1);
                    g2 = Avx512F.FusedMultiplyAdd(Widen16(ref w2, c), xv, g2);
                    g3 = Avx512F.FusedMultiplyAdd(Widen16(ref w3, c), xv, g3);
                }
                a0 = Avx512F.FusedMultiplyAdd(g0, Vector512.Create(Unsafe.Add(ref sc, k)), a0);
                a1 = Avx512F.FusedMultiplyAdd(g1, Vector512.Create(Unsafe.Add(ref sc1, k)), a1);
                a2 = Avx512F.FusedMultiplyAdd(g2, Vector512.Create(Unsafe.Add(ref sc2, k)), a2);
                a3 = Avx512F.FusedMultiplyAdd(g3, Vector512.Create(Unsafe.Add(ref sc3, k)), a3);
            }
            s0 = Vector512.Sum(a0); s1 = Vector512.Sum(a1); s2 = Vector512.Sum(a2); s3 = Vector512.Sum(a3);
        }
        else if (Avx2.IsSupported && Fma.IsSupported && g % 8 == 0)
        {
            vectorEnd = g;
            Vector256<float> a0 = default, a1 = default, a2 = default, a3 = default;
            for (int k = 0, c0 = 0; k < groups; k++, c0 += g)
            {
                Vector256<float> g0 = default, g1 = default, g2 = default, g3 = default;
                for (int c = c0; c < c0 + g; c += 8)
                {
                    var xv = Vector256.LoadUnsafe(ref x, (nuint)c);
                    g0 = Fma.MultiplyAdd(Widen8(ref w, c), xv, g0);
                    g1 = Fma.MultiplyAdd(Widen8(ref w1, c), xv, g1);
                    g2 = Fma.MultiplyAdd(Widen8(ref w2, c), xv, g2);
                    g3 = Fma.MultiplyAdd(Widen8(ref w3, c), xv, g3);
                }
                a0 = Fma.MultiplyAdd(g0, Vector256.Create(Unsafe.Add(ref sc, k)), a0);
                a1 = Fma.MultiplyAdd(g1, Vector256.Create(Unsafe.Add(ref sc1, k)), a1);
                a2 = Fma.MultiplyAdd(g2, Vector256.Create(Unsafe.Add(ref sc2, k)), a2);
                a3 = Fma.MultiplyAdd(g3, Vector256.Create(Unsafe.Add(ref sc3, k)), a3);
            }
            s0 = Vector256.Sum(a0); s1 = Vector256.Sum(a1); s2 = Vector256.Sum(a2); s3 = Vector256.Sum(a3);
        }
        if (vectorEnd < g)
            for (int k = 0, c0 = 0; k < groups; k++, c0 += g)
            {
                float t0 = 0, t1 = 0, t2 = 0, t3 = 0;
                for (int c = c0 + vectorEnd; c < c0 + g; c++)
                {
                    float xc = Unsafe.Add(ref x, c);
                    t0 += Unsafe.Add(ref w, c) * xc; t1 += Unsafe.Add(ref w1, c) * xc;
                    t2 += Unsafe.Add(ref w2, c) * xc; t3 += Unsafe.Add(ref w3, c) * xc;
                }
                s0 += t0 * Unsafe.Add(ref sc, k); s1 += t1 * Unsafe.Add(ref sc1, k);
                s2 += t2 * Unsafe.Add(ref sc2, k); s3 += t3 * Unsafe.Add(ref sc3, k);
            }
        return (s0, s1, s2, s3);
    }
}
