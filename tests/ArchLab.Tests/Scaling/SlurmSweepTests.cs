using System.Diagnostics;
using ArchLab.Scaling;
using ArchLab.Tests.TestSupport;

namespace ArchLab.Tests.Scaling;

/// <summary>
/// A real single-node Slurm (munge, slurmctld, slurmd on this machine; tests/slurm/start-local-slurm.sh installs
/// Debian's packages when missing): <c>archlab sweep submit --slurm</c> submits a two-task array, and both results
/// arrive in runs.jsonl. Skipped only when not root (the daemons and apt need it) or when neither Slurm nor apt-get is
/// there; if apt-get cannot reach its mirror the test fails with the script's message.
/// </summary>
[Trait("Category", Category.Slurm)]
public class SlurmSweepTests
{
    /// <summary>xunit 2 decides skips at discovery: the conditions are checked here.</summary>
    public sealed class LocalSlurmFactAttribute : FactAttribute
    {
        public LocalSlurmFactAttribute()
        {
            if (!OperatingSystem.IsLinux()) Skip = "local Slurm needs Linux";
            else if (Environment.UserName != "root") Skip = "local Slurm needs root (to install and start munge, slurmctld and slurmd); run the tests as root";
            else if (!File.Exists("/usr/bin/sbatch") && !File.Exists("/usr/bin/apt-get")) Skip = "neither Slurm nor apt-get is installed";
        }
    }

    static string RepoRoot()
    {
        for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir is not null; dir = dir.Parent)
            if (File.Exists(Path.Combine(dir.FullName, "ArchLab.sln"))) return dir.FullName;
        throw new InvalidOperationException("repository root not found");
    }

    [LocalSlurmFact]
    public void ATwoTaskArrayDeliversBothResults()
    {
        string script = Path.Combine(RepoRoot(), "tests", "slurm", "start-local-slurm.sh");
        var start = new ProcessStartInfo("bash") { RedirectStandardOutput = true, RedirectStandardError = true };
        start.ArgumentList.Add(script);
        using (var p = Process.Start(start)!)
        {
            var output = p.StandardOutput.ReadToEndAsync(); var error = p.StandardError.ReadToEndAsync();
            if (!p.WaitForExit(TimeSpan.FromMinutes(3))) { p.Kill(true); Assert.Fail("start-local-slurm.sh took over 3 minutes"); }
            Assert.True(p.ExitCode == 0, $"start-local-slurm.sh failed ({p.ExitCode}): {output.Result}{error.Result}");
        }

        using var corpus = new TinyCorpus();
        string dir = corpus.NewRunDir();
        string spec = SweepCliTests.WriteSpec(dir, corpus, steps: 10, name: "slurm-tiny");
        var (code, stdout, stderr) = ArchLabCli.Run("sweep", "submit", spec, "--slurm");
        Assert.True(code == 0, stdout + stderr);
        Assert.Contains("submitted job array", stdout);
        Assert.True(File.Exists(Path.Combine(dir, "slurm", "array.sh")));

        string runs = Path.Combine(dir, "runs.jsonl");
        var clock = Stopwatch.StartNew();
        while (clock.Elapsed < TimeSpan.FromMinutes(3) && (!File.Exists(runs) || new RunsFile(runs).Read().Count < 2)) Thread.Sleep(500);
        var logs = Directory.Exists(Path.Combine(dir, "slurm", "logs"))
            ? string.Join("\n", Directory.GetFiles(Path.Combine(dir, "slurm", "logs")).Select(File.ReadAllText)) : "";
        var results = File.Exists(runs) ? new RunsFile(runs).Read() : [];
        Assert.True(results.Count == 2, $"{results.Count} of 2 results after {clock.Elapsed.TotalSeconds:F0} s; task logs:\n{logs}");
        Assert.Equal(["transformer-d16-l1-t1.28e3", "transformer-d32-l1-t1.28e3"], results.Select(r => r.Id).Order());
        Assert.All(results, r => Assert.True(double.IsFinite(r.FinalValLoss)));
    }
}
