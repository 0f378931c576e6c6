using System.Diagnostics;
using System.Text;
using ArchLab.IO;

namespace ArchLab.Scaling;

/// <summary>
/// A Slurm job array for a sweep's pending runs: one array task per run, each running
/// <c>archlab sweep run-one SPEC --run ID</c>, so results land in the same <c>runs.jsonl</c> as local runs.
/// The script and the task → run table are written to <c>&lt;out&gt;/slurm/</c>; task logs go to <c>&lt;out&gt;/slurm/logs/</c>.
/// </summary>
public static class SlurmSubmitter
{
    /// <summary>The sbatch script; <paramref name="command"/> is the archlab invocation (program and leading arguments).</summary>
    public static string Script(SweepSpec spec, IReadOnlyList<RunPlan> pending, string specPath, string outDir,
        IReadOnlyList<string> command, string? partition = null, string? timeLimit = null)
    {
        string slurmDir = Path.GetFullPath(Path.Combine(outDir, "slurm"));
        // #SBATCH lines cannot be quoted: a value with a line break would start a new line of the script.
        OneLine(spec.Name, "the sweep name");
        OneLine(slurmDir, "--out");
        if (partition is not null) OneLine(partition, "--partition");
        if (timeLimit is not null) OneLine(timeLimit, "--time");
        foreach (var plan in pending)
            if (Quote(plan.Id) != plan.Id) throw new ArgumentException($"run id '{plan.Id}' holds characters a shell would interpret");
        var s = new StringBuilder();
        s.AppendLine("#!/bin/bash");
        s.AppendLine($"#SBATCH --job-name=archlab-{spec.Name}");
        s.AppendLine($"#SBATCH --array=0-{pending.Count - 1}");
        s.AppendLine("#SBATCH --ntasks=1");
        s.AppendLine($"#SBATCH --cpus-per-task={spec.Threads}");
        s.AppendLine($"#SBATCH --output={slurmDir}/logs/%A_%a.out");
        if (partition is not null) s.AppendLine($"#SBATCH --partition={partition}");
        if (timeLimit is not null) s.AppendLine($"#SBATCH --time={timeLimit}");
        s.AppendLine("# Written by `archlab sweep submit`: array task i trains run i of the list below and appends to runs.jsonl.");
        s.AppendLine("set -euo pipefail");
        s.AppendLine("runs=(");
        foreach (var plan in pending) s.AppendLine($"  {plan.Id}");
        s.AppendLine(")");
        s.AppendLine("run=\"${runs[$SLURM_ARRAY_TASK_ID]}\"");
        s.AppendLine($"cd {Quote(Directory.GetCurrentDirectory())}");
        s.AppendLine("exec " + string.Join(' ', command.Select(Quote)) + " sweep run-one " + Quote(Path.GetFullPath(specPath)) +
                     " --out " + Quote(Path.GetFullPath(outDir)) + " --run \"$run\"");
        return s.ToString();
    }

    /// <summary>Writes the script and submits it with sbatch; returns the job id.</summary>
    public static string Submit(string script, string outDir)
    {
        string slurmDir = Path.Combine(outDir, "slurm");
        Directory.CreateDirectory(Path.Combine(slurmDir, "logs"));
        string path = Path.Combine(slurmDir, "array.sh");
        AtomicFile.WriteAllText(path, script);
        var info = new ProcessStartInfo("sbatch") { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        info.ArgumentList.Add("--parsable");
        info.ArgumentList.Add(path);
        Process process;
        try { process = Process.Start(info)!; }
        catch (System.ComponentModel.Win32Exception) { throw new InvalidOperationException("sbatch not found: is Slurm installed here? (--dry-run prints the script)"); }
        using (process)
        {
            string stdout = process.StandardOutput.ReadToEnd(), stderr = process.StandardError.ReadToEnd();
            process.WaitForExit();
            if (process.ExitCode != 0) throw new InvalidOperationException($"sbatch failed (exit {process.ExitCode}): {stderr.Trim()}");
            return stdout.Trim().Split(';')[0];
        }
    }

    static void OneLine(string value, string what)
    {
        if (value.Any(char.IsControl) || value.Contains('\u2028') || value.Contains('\u2029'))
            throw new ArgumentException($"{what} must not hold control characters or line breaks (it goes into an #SBATCH line)");
    }

    static string Quote(string arg) =>
        arg.All(c => char.IsLetterOrDigit(c) || "/._-=:+,@%".Contains(c)) ? arg : "'" + arg.Replace("'", "'\\''") + "'";
}
