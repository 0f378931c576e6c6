using ArchLab.Engine;

namespace ArchLab.Tests.Engine;

/// <summary>The engine's <see cref="WorkerPool"/>: every part of every job runs exactly once, including jobs handed to
/// workers that had gone to sleep; a worker's exception reaches the caller; disposing stops the workers.</summary>
public class WorkerPoolTests
{
    sealed class CountingJob(int parts) : IPoolJob
    {
        public readonly int[] Runs = new int[parts];
        public void Execute(int part, int count)
        {
            Assert.Equal(Runs.Length, count);
            Interlocked.Increment(ref Runs[part]);
        }
    }

    /// <summary>Runs <paramref name="body"/> on its own thread and fails (instead of hanging) if it takes over 30 s.</summary>
    static void WithinTimeout(Action body)
    {
        var task = Task.Run(body);
        Assert.True(task.Wait(TimeSpan.FromSeconds(30)), "the pool did not finish within 30 s (a lost hand-off)");
    }

    [Theory]
    [InlineData(2)]
    [InlineData(3)]
    public void Every_part_of_every_job_runs_once(int threads) => WithinTimeout(() =>
    {
        using var pool = new WorkerPool(threads);
        var job = new CountingJob(threads);
        int jobs = threads <= Environment.ProcessorCount ? 20_000 : 1_000; // more threads than cores: each hand-off may wait for a time slice
        for (int i = 0; i < jobs; i++) pool.Run(job);
        Assert.All(job.Runs, runs => Assert.Equal(jobs, runs));
    });

    [Fact]
    public void Jobs_reach_workers_that_went_to_sleep() => WithinTimeout(() =>
    {
        using var pool = new WorkerPool(3);
        var job = new CountingJob(3);
        for (int i = 0; i < 20; i++)
        {
            Thread.Sleep(i % 2 == 0 ? 2 : 0); // 2 ms idle: far past the workers' 200 µs of spinning, so they sleep
            pool.Run(job);
            pool.Run(job);
        }
        Assert.All(job.Runs, runs => Assert.Equal(40, runs));
    });

    sealed class FailingJob : IPoolJob
    {
        public void Execute(int part, int parts)
        {
            if (part == 1) throw new InvalidDataException("part 1 failed");
        }
    }

    [Fact]
    public void A_workers_exception_reaches_the_caller_and_the_pool_goes_on() => WithinTimeout(() =>
    {
        using var pool = new WorkerPool(2);
        var error = Assert.Throws<InvalidOperationException>(() => pool.Run(new FailingJob()));
        Assert.IsType<InvalidDataException>(error.InnerException);
        var job = new CountingJob(2);
        pool.Run(job);
        Assert.Equal([1, 1], job.Runs);
    });

    [Fact]
    public void Dispose_stops_spinning_and_sleeping_workers() => WithinTimeout(() =>
    {
        var spinning = new WorkerPool(2);
        spinning.Run(new CountingJob(2));
        spinning.Dispose(); // joins its workers: returns only when they have stopped
        var sleeping = new WorkerPool(2);
        Thread.Sleep(5);
        sleeping.Dispose();
        Assert.Throws<ObjectDisposedException>(() => sleeping.Run(new CountingJob(2)));
    });
}
