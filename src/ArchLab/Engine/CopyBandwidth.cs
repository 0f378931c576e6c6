using System.Diagnostics;

namespace ArchLab.Engine;

/// <summary>
/// Memory copy bandwidth on a <see cref="WorkerPool"/>'s threads, STREAM-copy style: 64 MiB (twice the largest L3 here)
/// copied into a second buffer, each thread its own slice, counted as bytes read + bytes written per second. The yardstick
/// of a bandwidth-bound decode: tokens/s × weight bytes per token / this.
/// </summary>
public sealed class CopyBandwidth(WorkerPool pool) : IPoolJob
{
    const int Floats = 16 << 20;
    readonly float[] source = Enumerable.Range(0, Floats).Select(i => (float)i).ToArray();
    readonly float[] target = new float[Floats];

    /// <summary>Best of <paramref name="repetitions"/> copies, in bytes per second.</summary>
    public double Measure(int repetitions = 3)
    {
        double best = 0;
        for (int r = 0; r < repetitions; r++)
        {
            long start = Stopwatch.GetTimestamp();
            pool.Run(this);
            best = Math.Max(best, 2.0 * 4 * Floats / Stopwatch.GetElapsedTime(start).TotalSeconds);
        }
        return best;
    }

    public void Execute(int part, int parts)
    {
        int per = Floats / parts;
        int start = part * per, length = part == parts - 1 ? Floats - start : per;
        source.AsSpan(start, length).CopyTo(target.AsSpan(start, length));
    }
}
