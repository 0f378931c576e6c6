using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;

namespace ArchLab.Engine.Matrices;

/// <summary>
/// bfloat16 weights (the top 16 bits of a float32, rounded to nearest even), widened to float32 in registers: zero-extend
/// to 32 bits and shift left by 16 (vpmovzxwd + vpslld), then the same FMA loop as float32. Half the bytes of float32,
/// so a bandwidth-bound product gets up to twice as fast. x stays float32. (.NET 10 exposes no intrinsic for AVX-512
/// BF16's vdpbf16ps, which would also round x to bf16; widening keeps x exact.)
/// </summary>
public sealed class BFloat16Matrix : LeanMatrix
{
    readonly ushort[] weights;

    public BFloat16Matrix(int rows, int cols, float[] values, float[]? bias) : base(rows, cols, bias)
    {
        weights = new ushort[values.Length];
        for (int i = 0; i < values.Length; i++) weights[i] = Round(values[i]);
    }

    public override WeightFormat Format => WeightFormat.BFloat16;
    public override long Bytes => 2L * weights.Length + 4L * (Bias?.Length ?? 0);

    /// <summary>float32 → bfloat16 bits, round to nearest even (NaN stays NaN).</summary>
    public static ushort Round(float value)
    {
        uint bits = BitConverter.SingleToUInt32Bits(value);
        if (float.IsNaN(value)) return (ushort)((bits >> 16) | 0x40);
        return (ushort)((bits + 0x7FFF + ((bits >> 16) & 1)) >> 16);
    }

    public static float Widen(ushort bits) => BitConverter.UInt32BitsToSingle((uint)bits << 16);

    [MethodImpl(MethodImplOptions.AggressiveOptimization)] // SIMD code: optimised from the first call, not after tiering
    protected override void MultiplyRows(ReadOnlySpan<float> x, Span<float> y, int batch, int rowStart, int rowEnd)
    {
        ref ushort w = ref MemoryMarshal.GetArrayDataReference(weights);
        ref float x0 = ref MemoryMarshal.GetReference(x);
        int n = Cols, r = rowStart;
        for (; r + 4 <= rowEnd; r += 4)
        {
            ref ushort rows = ref Unsafe.Add(ref w, (nint)r * n);
            for (int b = 0; b < batch; b++)
            {
                var (s0, s1, s2, s3) = Dot4(ref rows, n, ref Unsafe.Add(ref x0, (nint)b * n));
                int o = b * Rows + r;
                y[o] = s0; y[o + 1] = s1; y[o + 2] = s2; y[o + 3] = s3;
            }
        }
        for (; r < rowEnd; r++)
            for (int b = 0; b < batch; b++)
            {
                float s = 0;
                for (int c = 0; c < n; c++) s += Widen(Unsafe.Add(ref w, (nint)r * n + c)) * Unsafe.Add(ref x0, (nint)b * n + c);
                y[b * Rows + r] = s;
            }
        AddBias(y, batch, rowStart, rowEnd);
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    static Vector512<float> Widen16(ref ushort w, int c) =>
        Avx512F.ShiftLeftLogical(Avx512F.ConvertToVector512Int32(Vector256.LoadUnsafe(ref w, (nuint)c)), 16).AsSingle();

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    static Vector256<float> Widen8(ref ushort w, int c) =>
        Avx2.ShiftLeftLogical(Avx2.ConvertToVector256Int32(Vector128.LoadUnsafe(ref w, (nuint)c)), 16).AsSingle();

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    static (float, float, float, float) Dot4(ref ushort w, int n, ref float x)
    {
        ref ushort w1 = ref Unsafe.Add(ref w, n), w2 = ref Unsafe.Add(ref w, 2 * n), w3 = ref Unsafe.Add(ref w, 3 * n);
        int c = 0;
        float s0 = 0, s1 = 0, s2 = 0, s3 = 0;
        if (Avx512F.IsSupported)
        {
            Vector512<float> a0 = default, a1 = default, a2 = default, a3 = default;
            for (; c <= n - 16; c += 16)
            {
                var xv = Vector512.LoadUnsafe(ref x, (nuint)c);
                a0 = Avx512F.FusedMultiplyAdd(Widen16(ref w, c), xv, a0);
                a1 = Avx512F.FusedMultiplyAdd(Widen16(ref w1, c), xv, a1);
                a2 = Avx512F.FusedMultiplyAdd(Widen16(ref w2, c), xv, a2);
                a3 = Avx512F.FusedMultiplyAdd(Widen16(ref w3, c), xv, a3);
            }
            s0 = Vector512.Sum(a0); s1 = Vector512.Sum(a1); s2 = Vector512.Sum(a2); s3 = Vector512.Sum(a3);
        }
        else if (Avx2.IsSupported && Fma.IsSupported)
        {
            Vector256<float> a0 = default, a1 = default, a2 = default, a3 = default;
            for (; c <= n - 8; c += 8)
            {
                var xv = Vector256.LoadUnsafe(ref x, (nuint)c);
                a0 = Fma.MultiplyAdd(Widen8(ref w, c), xv, a0);
                a1 = Fma.MultiplyAdd(Widen8(ref w1, c), xv, a1);
                a2 = Fma.MultiplyAdd(Widen8(ref w2, c), xv, a2);
                a3 = Fma.MultiplyAdd(Widen8(ref w3, c), xv, a3);
            }
            s0 = Vector256.Sum(a0); s1 = Vector256.Sum(a1); s2 = Vector256.Sum(a2); s3 = Vector256.Sum(a3);
        }
        for (; c < n; c++)
        {
            float xc = Unsafe.Add(ref x, c);
            s0 += Widen(Unsafe.Add(ref w, c)) * xc; s1 += Widen(Unsafe.Add(ref w1, c)) * xc;
            s2 += Widen(Unsafe.Add(ref w2, c)) * xc; s3 += Widen(Unsafe.Add(ref w3, c)) * xc;
        }
        return (s0, s1, s2, s3);
    }
}
