using System.Numerics;
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;
using TorchSharp;
using static TorchSharp.torch;

namespace ArchLab.Kernels.Cpu;

/// <summary>
/// 256-bit vector helpers shared by the fused CPU scan kernels, generic over float32 / float64 (the JIT removes the
/// type tests): exp, fused multiply-add (when the CPU has FMA), loads and stores of a partial vector at a row's end.
/// 256 bits because that is what AVX2 machines (this one included) run natively; AVX-512 machines run them too.
/// </summary>
static unsafe class SimdMath<T> where T : unmanaged, IFloatingPointIeee754<T>
{
    public static int Width => Vector256<T>.Count;

    /// <summary>e^v per lane: float32 by <see cref="ExpFloat"/>, float64 by the runtime's Vector256.Exp.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector256<T> Exp(Vector256<T> v)
    {
        if (typeof(T) == typeof(float)) return ExpFloat(v.As<T, float>()).As<float, T>();
        return Vector256.Exp(v.As<T, double>()).As<double, T>();
    }

    /// <summary>
    /// float32 e^x in float32 arithmetic (the runtime's Vector256.Exp(float) widens to float64, twice the work): x = n·ln2 + r
    /// with |r| ≤ ln2/2 (ln2 split in two parts for an exact reduction), e^r by Cephes expf's degree-6 polynomial
    /// (relative error about 1e-7, ≈ 1–2 ulp), times 2^n built in the exponent bits. Below −87.3 the result is 0 (as
    /// e^x underflows to there), above 88.7 +∞; NaN stays NaN.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector256<float> ExpFloat(Vector256<float> x)
    {
        var clamped = Vector256.Min(Vector256.Max(x, Vector256.Create(-87.3f)), Vector256.Create(88.7f));
        var n = Vector256.Round(clamped * Vector256.Create(1.44269504088896341f));
        var r = SimdMath<float>.Fma(n, Vector256.Create(-0.693359375f), clamped);
        r = SimdMath<float>.Fma(n, Vector256.Create(2.12194440e-4f), r);
        var p = Vector256.Create(1.9875691500E-4f);
        p = SimdMath<float>.Fma(p, r, Vector256.Create(1.3981999507E-3f));
        p = SimdMath<float>.Fma(p, r, Vector256.Create(8.3334519073E-3f));
        p = SimdMath<float>.Fma(p, r, Vector256.Create(4.1665795894E-2f));
        p = SimdMath<float>.Fma(p, r, Vector256.Create(1.6666665459E-1f));
        p = SimdMath<float>.Fma(p, r, Vector256.Create(5.0000001201E-1f));
        p = SimdMath<float>.Fma(p, r * r, r + Vector256<float>.One);
        var scale = Vector256.ShiftLeft(Vector256.ConvertToInt32(n) + Vector256.Create(127), 23).As<int, float>();
        var result = p * scale;
        result = Vector256.ConditionalSelect(Vector256.LessThan(x, Vector256.Create(-87.3f)), Vector256<float>.Zero, result);
        result = Vector256.ConditionalSelect(Vector256.GreaterThan(x, Vector256.Create(88.7f)), Vector256.Create(float.PositiveInfinity), result);
        return Vector256.ConditionalSelect(Vector256.Equals(x, x), result, x);
    }

    /// <summary>a·b + c, one rounding where the CPU has FMA.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector256<T> Fma(Vector256<T> a, Vector256<T> b, Vector256<T> c)
    {
        if (System.Runtime.Intrinsics.X86.Fma.IsSupported)
        {
            if (typeof(T) == typeof(float))
                return System.Runtime.Intrinsics.X86.Fma.MultiplyAdd(a.As<T, float>(), b.As<T, float>(), c.As<T, float>()).As<float, T>();
            return System.Runtime.Intrinsics.X86.Fma.MultiplyAdd(a.As<T, double>(), b.As<T, double>(), c.As<T, double>()).As<double, T>();
        }
        return a * b + c;
    }

    /// <summary>The first <paramref name="count"/> lanes from p, the rest zero (count ≤ Width).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector256<T> Load(T* p, int count)
    {
        if (count == Vector256<T>.Count) return Vector256.Load(p);
        Vector256<T> v = default;
        T* lanes = (T*)&v;
        for (int i = 0; i < count; i++) lanes[i] = p[i];
        return v;
    }

    /// <summary>Stores the first <paramref name="count"/> lanes of v at p.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static void Store(Vector256<T> v, T* p, int count)
    {
        if (count == Vector256<T>.Count) { v.Store(p); return; }
        T* lanes = (T*)&v;
        for (int i = 0; i < count; i++) p[i] = lanes[i];
    }

    /// <summary>A pinned, uninitialised scratch array and its address (pinned arrays never move).</summary>
    public static T* Scratch(long length, out T[] keepAlive)
    {
        keepAlive = GC.AllocateUninitializedArray<T>(checked((int)Math.Max(1, length)), pinned: true);
        return (T*)Unsafe.AsPointer(ref MemoryMarshal.GetArrayDataReference(keepAlive));
    }

    /// <summary>Address of a pinned array's first element.</summary>
    public static T* Address(T[] pinned) => (T*)Unsafe.AsPointer(ref MemoryMarshal.GetArrayDataReference(pinned));
}

/// <summary>Work split shared by the kernels: a fixed list of tasks (independent of scheduling, so sums are deterministic),
/// a few per core so a core slowed by other processes does not hold everything up.</summary>
static class KernelGrain
{
    /// <summary>Tasks per core (ARCHLAB_KERNEL_TASKS_PER_CORE overrides it for experiments; 0 runs one task on the caller).</summary>
    static readonly int PerCore = int.TryParse(Environment.GetEnvironmentVariable("ARCHLAB_KERNEL_TASKS_PER_CORE"), out int n) ? n : 4;

    public static int TasksFor(long items) => (int)Math.Max(1, Math.Min(items, (long)PerCore * Environment.ProcessorCount));

    /// <summary>
    /// The tasks on at most as many threads as libtorch may use (<c>--threads</c>; sweep workers use 1): a plain loop on
    /// the caller when that is 1 or there is one task, else Parallel.For. The split into tasks does not depend on it, so
    /// results are the same bit for bit. Staying on the caller also keeps pool threads from allocating (and so starting a
    /// GC) while the training thread is inside a native call, the trigger of TorchSharp 0.107's Scalar lifetime race
    /// (README "Platform"): RWKV-4 and Mamba sweep runs died of it, Transformer and RetNet runs (no kernels) never did.
    /// </summary>
    public static void Run(int tasks, Action<int> body)
    {
        int threads = tasks == 1 ? 1 : torch.get_num_threads();
        if (threads <= 1)
            for (int task = 0; task < tasks; task++) body(task);
        else Parallel.For(0, tasks, new ParallelOptions { MaxDegreeOfParallelism = threads }, body);
    }
}

static class TensorPointer
{
    /// <summary>Address of the first element of a contiguous CPU tensor (its storage offset included).</summary>
    public static unsafe nint Ptr(this Tensor t) =>
        t.NumberOfElements == 0 ? 0 : (nint)Unsafe.AsPointer(ref MemoryMarshal.GetReference(t.bytes));

    /// <summary>True when every tensor given is on the CPU with the given floating dtype (null entries are skipped).</summary>
    public static bool AllCpu(ScalarType dtype, params Tensor?[] tensors) =>
        (dtype == ScalarType.Float32 || dtype == ScalarType.Float64) &&
        tensors.All(t => t is null || (t.device_type == DeviceType.CPU && t.dtype == dtype));
}
