using System.Diagnostics;
using ArchLab.Scaling;

namespace ArchLab.Tests.Scaling;

/// <summary>The worker pool itself, with shell commands standing in for training processes.</summary>
public class LocalSweepRunnerTests
{
    static IReadOnlyList<RunPlan> Plans() => SweepPlanner.Plan(SweepSpec.FromJson("""
        { "name": "t", "architectures": ["transformer"], "sizes": [{ "dim": 16, "layers": 1 }, { "dim": 32, "layers": 1 }, { "dim": 32, "layers": 2 }],
          "token_budgets": [10000], "seq_len": 32, "batch_size": 4, "min_steps": 5 }
        """));

    /// <summary>A worker that fails the first time it sees a run and succeeds after, printing the run id.</summary>
    static ProcessStartInfo FlakyWorker(string dir, RunPlan plan)
    {
        var info = new ProcessStartInfo("bash");
        info.ArgumentList.Add("-c");
        info.ArgumentList.Add($"echo working on {plan.Id}; m='{dir}/{plan.Id}.seen'; if [ -f \"$m\" ]; then exit 0; else touch \"$m\"; exit 3; fi");
        return info;
    }

    [Theory]
    [InlineData(1, 3, 0)]
    [InlineData(0, 0, 3)]
    public void FailedRunsAreStartedAgainUpToTheRetryCount(int retries, int finished, int failed)
    {
        string dir = Directory.CreateTempSubdirectory("archlab-runner-").FullName;
        try
        {
            var log = new StringWriter();
            var summary = LocalSweepRunner.Run(Plans(), dir, workers: 2, plan => FlakyWorker(dir, plan), log, retries);
            Assert.Equal(finished, summary.Finished);
            Assert.Equal(failed, summary.Failed.Count);
            Assert.Contains("FAILED (exit 3", log.ToString());
            foreach (var plan in Plans())
                Assert.Contains($"working on {plan.Id}", File.ReadAllText(Path.Combine(dir, "runs", plan.Id, "worker.log")));
        }
        finally { Directory.Delete(dir, true); }
    }
}
