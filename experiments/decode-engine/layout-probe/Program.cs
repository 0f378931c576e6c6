// One thread reads a float32 matrix [rows, 288] through four kernels, interleaved in rounds; prints GB/s of the matrix's
// bytes (copy: bytes read + written). The matrix-vector kernels keep 8 row sums (AVX-512):
//   row-major:  8 consecutive rows, 16 columns of each per step (8 streams 1,152 bytes apart), prefetching the next 8 rows;
//   row blocks: the engine's layout (src/ArchLab/Engine/Matrices/RowBlocks.cs), one stream, prefetching 16 KiB ahead.
using System.Diagnostics;
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;

if (!Vector512.IsHardwareAccelerated) { Console.Error.WriteLine("this probe needs AVX-512"); return 1; }
const int Rounds = 12, Cols = Kernels.Cols;
int rows = args.Length > 0 ? int.Parse(args[0]) : 52736; // 52,736 × 288 × 4 B = 60.8 MB, the stories15M shape's bytes per token
if (rows % 8 != 0) { Console.Error.WriteLine("rows must be a multiple of 8"); return 1; }
var random = new Random(1);
var rowMajor = new float[(long)rows * Cols];
for (long i = 0; i < rowMajor.Length; i++) rowMajor[i] = (float)random.NextDouble() - 0.5f;
var blocks = new float[rowMajor.Length];
for (int r = 0, i = 0; r < rows; r += 8)
    for (int c = 0; c < Cols; c += 16)
        for (int k = 0; k < 8; k++)
            for (int j = 0; j < 16; j++) blocks[i++] = rowMajor[(long)(r + k) * Cols + c + j];
var x = new float[Cols];
for (int i = 0; i < Cols; i++) x[i] = (float)random.NextDouble();
float[] y1 = new float[rows], y2 = new float[rows], target = new float[rowMajor.Length];
double bytes = 4.0 * rowMajor.Length;
string[] names = ["row-major", "row blocks", "sum", "copy"];
var rates = names.Select(_ => new List<double>()).ToArray();
int repeats = rows < 10_000 ? 200 : 5;
for (int round = 0; round < Rounds; round++)
    for (int v = 0; v < names.Length; v++)
    {
        int kernel = (v + round) % names.Length;
        var times = new List<double>();
        for (int rep = 0; rep < repeats; rep++)
        {
            long start = Stopwatch.GetTimestamp();
            switch (kernel)
            {
                case 0: Kernels.RowMajor(rowMajor, x, y1, rows); break;
                case 1: Kernels.RowBlocks(blocks, x, y2, rows); break;
                case 2: Kernels.Sum(rowMajor); break;
                default: Kernels.Copy(rowMajor, target); break;
            }
            times.Add((kernel == 3 ? 2 : 1) * bytes / Stopwatch.GetElapsedTime(start).TotalSeconds / 1e9);
        }
        times.Sort();
        rates[kernel].Add(times[times.Count / 2]);
    }
for (int r = 0; r < rows; r++)
    if (Math.Abs(y1[r] - y2[r]) > 1e-3f * (1 + Math.Abs(y1[r]))) { Console.Error.WriteLine($"kernels disagree at row {r}"); return 1; }
Console.WriteLine($"matrix {rows} × {Cols} float32 ({bytes / 1e6:F1} MB), one thread, {Rounds} interleaved rounds; GB/s, median [min–max] over rounds");
for (int k = 0; k < names.Length; k++)
{
    var l = rates[k].Order().ToList();
    Console.WriteLine($"{names[k],-11} {l[l.Count / 2],6:F1} [{l[0]:F1}–{l[^1]:F1}]");
}
return 0;

static unsafe class Kernels
{
    public const int Cols = 288;

    [MethodImpl(MethodImplOptions.NoInlining | MethodImplOptions.AggressiveOptimization)]
    public static void RowMajor(float[] weights, float[] xs, float[] y, int rows)
    {
        ref float w0 = ref MemoryMarshal.GetArrayDataReference(weights);
        ref float x = ref xs[0];
        for (int r = 0; r < rows; r += 8)
        {
            ref float w = ref Unsafe.Add(ref w0, (nint)r * Cols);
            byte* next = (byte*)Unsafe.AsPointer(ref Unsafe.Add(ref w, 8 * Cols));
            Vector512<float> a0 = default, a1 = default, a2 = default, a3 = default, a4 = default, a5 = default, a6 = default, a7 = default;
            for (int c = 0; c < Cols; c += 16)
            {
                var xv = Vector512.LoadUnsafe(ref x, (nuint)c);
                ref float wc = ref Unsafe.Add(ref w, c);
                byte* ahead = next + 32 * c;
                for (int line = 0; line < 512; line += 64) Sse.Prefetch0(ahead + line);
                a0 = Vector512.FusedMultiplyAdd(Vector512.LoadUnsafe(ref wc), xv, a0);
                a1 = Vector512.FusedMultiplyAdd(Vector512.LoadUnsafe(ref wc, Cols), xv, a1);
                a2 = Vector512.FusedMultiplyAdd(Vector512.LoadUnsafe(ref wc, 2 * Cols), xv, a2);
                a3 = Vector512.FusedMultiplyAdd(Vector512.LoadUnsafe(ref wc, 3 * Cols), xv, a3);
                a4 = Vector512.FusedMultiplyAdd(Vector512.LoadUnsafe(ref wc, 4 * Cols), xv, a4);
                a5 = Vector512.FusedMultiplyAdd(Vector512.LoadUnsafe(ref wc, 5 * Cols), xv, a5);
                a6 = Vector512.FusedMultiplyAdd(Vector512.LoadUnsafe(ref wc, 6 * Cols), xv, a6);
                a7 = Vector512.FusedMultiplyAdd(Vector512.LoadUnsafe(ref wc, 7 * Cols), xv, a7);
            }
            Store(y, r, a0, a1, a2, a3, a4, a5, a6, a7);
        }
    }

    [MethodImpl(MethodImplOptions.NoInlining | MethodImplOptions.AggressiveOptimization)]
    public static void RowBlocks(float[] weights, float[] xs, float[] y, int rows)
    {
        ref float w0 = ref MemoryMarshal.GetArrayDataReference(weights);
        ref float x = ref xs[0];
        for (int r = 0; r < rows; r += 8)
        {
            Vector512<float> a0 = default, a1 = default, a2 = default, a3 = default, a4 = default, a5 = default, a6 = default, a7 = default;
            for (int c = 0; c < Cols; c += 16)
            {
                var xv = Vector512.LoadUnsafe(ref x, (nuint)c);
                ref float wc = ref Unsafe.Add(ref w0, (nint)r * Cols + 8 * c);
                byte* ahead = (byte*)Unsafe.AsPointer(ref wc) + 16 * 1024;
                for (int line = 0; line < 512; line += 64) Sse.Prefetch0(ahead + line);
                a0 = Vector512.FusedMultiplyAdd(Vector512.LoadUnsafe(ref wc), xv, a0);
                a1 = Vector512.FusedMultiplyAdd(Vector512.LoadUnsafe(ref wc, 16), xv, a1);
                a2 = Vector512.FusedMultiplyAdd(Vector512.LoadUnsafe(ref wc, 32), xv, a2);
                a3 = Vector512.FusedMultiplyAdd(Vector512.LoadUnsafe(ref wc, 48), xv, a3);
                a4 = Vector512.FusedMultiplyAdd(Vector512.LoadUnsafe(ref wc, 64), xv, a4);
                a5 = Vector512.FusedMultiplyAdd(Vector512.LoadUnsafe(ref wc, 80), xv, a5);
                a6 = Vector512.FusedMultiplyAdd(Vector512.LoadUnsafe(ref wc, 96), xv, a6);
                a7 = Vector512.FusedMultiplyAdd(Vector512.LoadUnsafe(ref wc, 112), xv, a7);
            }
            Store(y, r, a0, a1, a2, a3, a4, a5, a6, a7);
        }
    }

    static void Store(float[] y, int r, Vector512<float> a0, Vector512<float> a1, Vector512<float> a2, Vector512<float> a3,
        Vector512<float> a4, Vector512<float> a5, Vector512<float> a6, Vector512<float> a7)
    {
        y[r] = Vector512.Sum(a0); y[r + 1] = Vector512.Sum(a1); y[r + 2] = Vector512.Sum(a2); y[r + 3] = Vector512.Sum(a3);
        y[r + 4] = Vector512.Sum(a4); y[r + 5] = Vector512.Sum(a5); y[r + 6] = Vector512.Sum(a6); y[r + 7] = Vector512.Sum(a7);
    }

    [MethodImpl(MethodImplOptions.NoInlining | MethodImplOptions.AggressiveOptimization)]
    public static float Sum(float[] values)
    {
        ref float p = ref values[0];
        Vector512<float> s0 = default, s1 = default, s2 = default, s3 = default;
        for (int i = 0; i < values.Length; i += 64)
        {
            s0 += Vector512.LoadUnsafe(ref p, (nuint)i); s1 += Vector512.LoadUnsafe(ref p, (nuint)(i + 16));
            s2 += Vector512.LoadUnsafe(ref p, (nuint)(i + 32)); s3 += Vector512.LoadUnsafe(ref p, (nuint)(i + 48));
        }
        return Vector512.Sum(s0 + s1 + s2 + s3);
    }

    [MethodImpl(MethodImplOptions.NoInlining | MethodImplOptions.AggressiveOptimization)]
    public static void Copy(float[] source, float[] target)
    {
        ref float p = ref source[0]; ref float q = ref target[0];
        for (int i = 0; i < source.Length; i += 16) Vector512.LoadUnsafe(ref p, (nuint)i).StoreUnsafe(ref q, (nuint)i);
    }
}
