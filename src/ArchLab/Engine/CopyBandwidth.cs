using System.Diagnostics;
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using System.Runtime.Intrinsics;

namespace ArchLab.Engine;

/// <summary>
/// Memory bandwidth on a <see cref="WorkerPool"/>'s threads, over 64 MiB arrays (twice the largest L3 here), each thread
/// its own slice:
/// <list type="bullet">
/// <item><b>copy</b>, as STREAM's Copy kernel: b[i] = a[i] with ordinary vector loads and stores, counted as bytes read +
/// bytes written per second (the figure the platform notes and llama2.c comparisons use: ≈ 24 GB/s on one thread);</item>
/// <item><b>read</b>: a sum over a[i], bytes read per second: what a decoder that only reads its weights can reach.</item>
/// </list>
/// The yardstick of a bandwidth-bound decode is tokens/s × weight bytes per token / bandwidth.
/// <para>A small model's weights do not come from memory: they stay in L2 or L3 from one step to the next. For those,
/// <see cref="ReadResident"/> reads a buffer as large as the weights again and again, so that it sits in whichever cache
/// it fits, and gives the read bandwidth from there.</para>
/// </summary>
public sealed class CopyBandwidth
{
    const int Floats = 16 << 20;
    readonly WorkerPool pool;
    readonly float[] source = Enumerable.Range(0, Floats).Select(i => (float)(i & 1023)).ToArray();
    readonly float[] target = new float[Floats];
    readonly float[] sums;

    public CopyBandwidth(WorkerPool pool)
    {
        this.pool = pool;
        sums = new float[pool.Threads];
        // One untimed copy first: a new array's pages are mapped on first write, and a timed pass that faults them in
        // measured 0.8 GB/s instead of 40 (a one-round benchmark reported that).
        pool.Run(new Job(this, source, target));
    }

    /// <summary>Best of <paramref name="repetitions"/> STREAM-style copies, bytes read + written per second.</summary>
    public double Copy(int repetitions = 3) => Best(repetitions, new Job(this, source, target), 2.0 * 4 * Floats);

    /// <summary>Best of <paramref name="repetitions"/> read-only passes, bytes read per second.</summary>
    public double Read(int repetitions = 3) => Best(repetitions, new Job(this, source, null), 4.0 * Floats);

    readonly Dictionary<long, float[]> resident = [];

    /// <summary>Best of <paramref name="repetitions"/> read-only passes over a buffer of <paramref name="bytes"/> (rounded up
    /// to 256), each pass right after the one before, so the buffer stays in whichever cache it fits: bytes read per
    /// second. The buffer is kept for the next call with the same size.</summary>
    public double ReadResident(long bytes, int repetitions = 5)
    {
        if (bytes <= 0 || bytes > (1L << 33)) throw new ArgumentOutOfRangeException(nameof(bytes), $"resident read of {bytes} bytes");
        if (!resident.TryGetValue(bytes, out var buffer))
        {
            long floats = (bytes + 255) / 256 * 64;
            resident[bytes] = buffer = new float[floats];
            buffer.AsSpan().Fill(1f); // touch every page before timing
        }
        var job = new Job(this, buffer, null);
        pool.Run(job); // untimed: bring it into the caches
        return Best(repetitions, job, 4.0 * buffer.Length);
    }

    double Best(int repetitions, Job job, double bytes)
    {
        double best = 0;
        for (int r = 0; r < repetitions; r++)
        {
            long start = Stopwatch.GetTimestamp();
            pool.Run(job);
            best = Math.Max(best, bytes / Stopwatch.GetElapsedTime(start).TotalSeconds);
        }
        return best;
    }

    /// <summary>Copies <paramref name="from"/> into <paramref name="to"/>, or sums <paramref name="from"/> when
    /// <paramref name="to"/> is null; each thread its own slice (a multiple of 64 floats: the arrays' lengths are).</summary>
    sealed class Job(CopyBandwidth owner, float[] from, float[]? to) : IPoolJob
    {
        [MethodImpl(MethodImplOptions.AggressiveOptimization)]
        public void Execute(int part, int parts)
        {
            bool copy = to is not null;
            int length = from.Length;
            int per = length / parts / 64 * 64;
            int start = part * per, end = part == parts - 1 ? length : start + per;
            ref float a = ref MemoryMarshal.GetArrayDataReference(from);
            ref float b = ref copy ? ref MemoryMarshal.GetArrayDataReference(to!) : ref a;
            if (copy && Simd.Wide)
                for (int i = start; i < end; i += 16) Vector512.LoadUnsafe(ref a, (nuint)i).StoreUnsafe(ref b, (nuint)i);
            else if (copy)
                for (int i = start; i < end; i += 8) Vector256.LoadUnsafe(ref a, (nuint)i).StoreUnsafe(ref b, (nuint)i);
            else if (Simd.Wide)
            {
                // four sums: one add chain would wait on its latency instead of on memory
                Vector512<float> s0 = default, s1 = default, s2 = default, s3 = default;
                for (int i = start; i < end; i += 64)
                {
                    s0 += Vector512.LoadUnsafe(ref a, (nuint)i);
                    s1 += Vector512.LoadUnsafe(ref a, (nuint)(i + 16));
                    s2 += Vector512.LoadUnsafe(ref a, (nuint)(i + 32));
                    s3 += Vector512.LoadUnsafe(ref a, (nuint)(i + 48));
                }
                owner.sums[part] = Vector512.Sum(s0 + s1 + s2 + s3);
            }
            else
            {
                Vector256<float> s0 = default, s1 = default, s2 = default, s3 = default;
                for (int i = start; i < end; i += 32)
                {
                    s0 += Vector256.LoadUnsafe(ref a, (nuint)i);
                    s1 += Vector256.LoadUnsafe(ref a, (nuint)(i + 8));
                    s2 += Vector256.LoadUnsafe(ref a, (nuint)(i + 16));
                    s3 += Vector256.LoadUnsafe(ref a, (nuint)(i + 24));
                }
                owner.sums[part] = Vector256.Sum(s0 + s1 + s2 + s3);
            }
        }
    }
}
