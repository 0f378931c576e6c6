using System.Diagnostics;

namespace ArchLab.Scaling;

/// <summary>
/// Runs a sweep's pending runs on this machine, <c>workers</c> at a time, each in its own child process (started by
/// <c>startRun</c>, normally <c>archlab sweep run-one SPEC --run ID</c>). Runs already in <c>runs.jsonl</c> are skipped,
/// so a killed sweep resumes where it stopped. A child's output goes to <c>runs/&lt;id&gt;/worker.log</c>.
/// </summary>
public static class LocalSweepRunner
{
    public sealed record Summary(int Planned, int AlreadyDone, int Finished, IReadOnlyList<string> Failed);

    public static Summary Run(IReadOnlyList<RunPlan> plans, string outDir, int workers, Func<RunPlan, ProcessStartInfo> startRun,
        TextWriter log, CancellationToken cancel = default)
    {
        if (workers < 1) throw new ArgumentException($"--workers must be at least 1, got {workers}");
        var done = new RunsFile(Path.Combine(outDir, "runs.jsonl")).FinishedIds();
        var pending = new Queue<RunPlan>(plans.Where(p => !done.Contains(p.Id)));
        int alreadyDone = plans.Count - pending.Count, finished = 0;
        var failed = new List<string>();
        log.WriteLine($"{plans.Count} runs planned, {alreadyDone} already in runs.jsonl, {pending.Count} to run with {workers} workers");
        var running = new List<(RunPlan Plan, Process Process, Stopwatch Clock)>();
        try
        {
            while (pending.Count > 0 || running.Count > 0)
            {
                cancel.ThrowIfCancellationRequested();
                while (running.Count < workers && pending.Count > 0)
                {
                    var plan = pending.Dequeue();
                    string runDir = Path.Combine(outDir, "runs", plan.Id);
                    Directory.CreateDirectory(runDir);
                    var info = startRun(plan);
                    info.RedirectStandardOutput = info.RedirectStandardError = true;
                    info.UseShellExecute = false;
                    var process = new Process { StartInfo = info };
                    var logWriter = TextWriter.Synchronized(new StreamWriter(Path.Combine(runDir, "worker.log"), append: true) { AutoFlush = true });
                    process.OutputDataReceived += (_, e) => { if (e.Data is not null) logWriter.WriteLine(e.Data); };
                    process.ErrorDataReceived += (_, e) => { if (e.Data is not null) logWriter.WriteLine(e.Data); };
                    process.Exited += (_, _) => logWriter.Flush();
                    process.Start();
                    process.BeginOutputReadLine();
                    process.BeginErrorReadLine();
                    running.Add((plan, process, Stopwatch.StartNew()));
                }
                Thread.Sleep(200);
                foreach (var run in running.Where(r => r.Process.HasExited).ToList())
                {
                    run.Process.WaitForExit();
                    running.Remove(run);
                    if (run.Process.ExitCode == 0) finished++; else failed.Add(run.Plan.Id);
                    log.WriteLine($"[{alreadyDone + finished + failed.Count}/{plans.Count}] {run.Plan.Id}: " +
                                  (run.Process.ExitCode == 0 ? "done" : $"FAILED (exit {run.Process.ExitCode}, see runs/{run.Plan.Id}/worker.log)") +
                                  $" in {run.Clock.Elapsed.TotalSeconds:F0} s");
                    run.Process.Dispose();
                }
            }
        }
        finally
        {
            foreach (var run in running)
                try { run.Process.Kill(entireProcessTree: true); } catch (InvalidOperationException) { }
        }
        return new Summary(plans.Count, alreadyDone, finished, failed);
    }
}
