using System.Diagnostics;
using System.Runtime.ExceptionServices;
using System.Runtime.InteropServices;

namespace ArchLab.Engine;

/// <summary>Work that a <see cref="WorkerPool"/> splits into parts: part p of n runs on thread p (0 is the caller).</summary>
public interface IPoolJob
{
    void Execute(int part, int parts);
}

/// <summary>
/// Persistent threads for the engine's matrix products: the caller runs part 0 of a job and <see cref="Threads"/> − 1
/// workers run the others, each a fixed slice, so the same inputs always give the same bits. A worker waiting for the
/// next job spins for <see cref="SpinMicroseconds"/> (a decode step hands out dozens of jobs a few microseconds apart,
/// and waking a sleeping thread costs tens of microseconds), then sleeps until woken. No allocation per job.
/// <para>A hand-off is two cache-line transfers between cores: the caller publishes the job and its generation in a line that
/// only it writes, and each worker reports the generation it has finished in a line of its own. (With the job, its
/// generation, the count of busy workers and the sleepers all in one line, that line bounced between the cores several
/// times per job: an empty job took 1.0 µs, against 0.46–0.50 µs now, one worker; 2026-12-05, 2 cores.)</para>
/// </summary>
public sealed class WorkerPool : IDisposable
{
    const double SpinMicroseconds = 200;

    public int Threads { get; }

    readonly Thread[] workers;
    readonly object gate = new();
    Published published;      // the caller's: the current job and its generation (incremented for every job)
    readonly Line[] finished; // worker i's: the last generation it finished
    Line sleepers;            // workers blocked in Monitor.Wait
    volatile bool stopping;
    Exception? failure;

    /// <summary>An int alone in its cache line (64 bytes each side), so that writing it disturbs nothing else.</summary>
    [StructLayout(LayoutKind.Explicit, Size = 128)]
    struct Line { [FieldOffset(64)] public int Value; }

    /// <summary>The job and its generation, together in one cache line of their own: a worker that sees the new
    /// generation has the job in the same transfer.</summary>
    [StructLayout(LayoutKind.Explicit, Size = 128)]
    struct Published { [FieldOffset(64)] public IPoolJob? Job; [FieldOffset(72)] public int Value; }

    public WorkerPool(int threads)
    {
        if (threads < 1) throw new ArgumentException($"threads must be ≥ 1, got {threads}");
        Threads = threads;
        workers = new Thread[threads - 1];
        finished = new Line[threads - 1];
        for (int i = 0; i < workers.Length; i++)
        {
            int part = i + 1;
            workers[i] = new Thread(() => Work(part)) { IsBackground = true, Name = $"archlab-engine-{part}" };
            workers[i].Start();
        }
    }

    /// <summary>Runs the job's parts on all threads and returns when every part is done.</summary>
    public void Run(IPoolJob work)
    {
        ObjectDisposedException.ThrowIf(stopping, this);
        if (Threads == 1) { work.Execute(0, 1); return; }
        published.Job = work;
        int generation = published.Value + 1;
        Volatile.Write(ref published.Value, generation); // after the job: a worker that sees the generation sees the job
        Exception? own = null;
        try { work.Execute(0, Threads); }
        catch (Exception e) { own = e; }
        for (int i = 0; i < finished.Length; i++)
            while (Volatile.Read(ref finished[i].Value) != generation)
            {
                // A worker that went to sleep (it had been idle for SpinMicroseconds) may have missed the new generation:
                // it counts itself among the sleepers before it waits, under the lock that this pulse takes, so it is woken.
                if (Volatile.Read(ref sleepers.Value) > 0) lock (gate) Monitor.PulseAll(gate);
                Thread.SpinWait(1); // parts take microseconds: no back-off, no yield
            }
        if (own is not null) ExceptionDispatchInfo.Capture(own).Throw(); // the caller's own part failed: keep its stack trace
        if (Volatile.Read(ref failure) is not null && Interlocked.Exchange(ref failure, null) is { } e2)
            throw new InvalidOperationException("an engine worker failed", e2);
    }

    void Work(int part)
    {
        int seen = 0; // the generation at construction: a job started before this thread ran is still seen as new
        while (true)
        {
            long spinStart = Stopwatch.GetTimestamp();
            for (int spins = 1; Volatile.Read(ref published.Value) == seen; spins++)
            {
                // A new job is seen within one short pause; the clock and stopping are read every 64 pauses.
                if ((spins & 63) != 0) { Thread.SpinWait(1); continue; }
                if (stopping) return;
                if (Stopwatch.GetElapsedTime(spinStart).TotalMicroseconds < SpinMicroseconds) continue;
                lock (gate)
                {
                    Interlocked.Increment(ref sleepers.Value);
                    while (Volatile.Read(ref published.Value) == seen && !stopping) Monitor.Wait(gate);
                    Interlocked.Decrement(ref sleepers.Value);
                }
            }
            if (stopping) return;
            seen = Volatile.Read(ref published.Value);
            try { published.Job!.Execute(part, Threads); }
            catch (Exception e) { Interlocked.CompareExchange(ref failure, e, null); }
            Volatile.Write(ref finished[part - 1].Value, seen);
        }
    }

    public void Dispose()
    {
        if (stopping) return;
        stopping = true;
        lock (gate) Monitor.PulseAll(gate);
        foreach (var w in workers) w.Join();
    }
}
