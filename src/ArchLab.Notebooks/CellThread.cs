using System.Collections.Concurrent;

namespace ArchLab.Notebooks;

/// <summary>
/// Runs every cell of a notebook on one dedicated background thread (so thread-local state such as libtorch's grad mode
/// carries from cell to cell, as in a kernel) and enforces the per-cell time limit: a cell that runs past it is abandoned
/// (the thread is a background thread, so it cannot keep the process alive) and no further cell runs.
/// </summary>
internal sealed class CellThread : IDisposable
{
    readonly BlockingCollection<Action> work = new();
    readonly Thread thread;
    bool abandoned;

    public CellThread()
    {
        thread = new Thread(() => { foreach (var item in work.GetConsumingEnumerable()) item(); })
        {
            IsBackground = true,
            Name = "notebook cells",
        };
        thread.Start();
    }

    public T Run<T>(Func<T> cell, TimeSpan? timeout)
    {
        if (abandoned) throw new InvalidOperationException("an earlier cell timed out; no further cells can run");
        var done = new TaskCompletionSource<T>(TaskCreationOptions.RunContinuationsAsynchronously);
        work.Add(() =>
        {
            try { done.SetResult(cell()); }
            catch (Exception e) { done.SetException(e); }
        });
        if (timeout is TimeSpan limit && Task.WhenAny(done.Task, Task.Delay(limit)).GetAwaiter().GetResult() != done.Task)
        {
            abandoned = true;
            throw new CellTimeoutException(limit);
        }
        return done.Task.GetAwaiter().GetResult();
    }

    public void Dispose()
    {
        work.CompleteAdding();
        if (!abandoned) thread.Join();
    }
}
