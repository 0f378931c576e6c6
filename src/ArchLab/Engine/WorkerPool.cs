using System.Diagnostics;
using System.Runtime.ExceptionServices;

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
/// </summary>
public sealed class WorkerPool : IDisposable
{
    const double SpinMicroseconds = 200;

    public int Threads { get; }

    readonly Thread[] workers;
    readonly object gate = new();
    IPoolJob? job;
    int generation;   // incremented for every job; workers run a job when it changes
    int pending;      // workers still running the current job
    int sleepers;     // workers blocked in Monitor.Wait
    volatile bool stopping;
    Exception? failure;

    public WorkerPool(int threads)
    {
        if (threads < 1) throw new ArgumentException($"threads must be ≥ 1, got {threads}");
        Threads = threads;
        workers = new Thread[threads - 1];
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
        job = work;
        Volatile.Write(ref pending, Threads - 1);
        Interlocked.Increment(ref generation);
        if (Volatile.Read(ref sleepers) > 0) lock (gate) Monitor.PulseAll(gate);
        Exception? own = null;
        try { work.Execute(0, Threads); }
        catch (Exception e) { own = e; }
        var spinner = new SpinWait();
        while (Volatile.Read(ref pending) != 0) spinner.SpinOnce(sleep1Threshold: -1);
        job = null;
        if (own is not null) ExceptionDispatchInfo.Capture(own).Throw(); // the caller's own part failed: keep its stack trace
        if (Interlocked.Exchange(ref failure, null) is { } e2) throw new InvalidOperationException("an engine worker failed", e2);
    }

    void Work(int part)
    {
        int seen = 0; // the generation at construction: a job started before this thread ran is still seen as new
        while (true)
        {
            long spinStart = Stopwatch.GetTimestamp();
            while (Volatile.Read(ref generation) == seen && !stopping)
            {
                if (Stopwatch.GetElapsedTime(spinStart).TotalMicroseconds < SpinMicroseconds) { Thread.SpinWait(20); continue; }
                lock (gate)
                {
                    Interlocked.Increment(ref sleepers);
                    while (Volatile.Read(ref generation) == seen && !stopping) Monitor.Wait(gate);
                    Interlocked.Decrement(ref sleepers);
                }
            }
            if (stopping) return;
            seen = Volatile.Read(ref generation);
            try { job!.Execute(part, Threads); }
            catch (Exception e) { Interlocked.CompareExchange(ref failure, e, null); }
            Interlocked.Decrement(ref pending);
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
