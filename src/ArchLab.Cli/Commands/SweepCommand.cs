using System.CommandLine;
using System.Diagnostics;
using ArchLab.Data;
using ArchLab.Runtime;
using ArchLab.Scaling;

namespace ArchLab.Cli.Commands;

/// <summary><c>archlab sweep plan|run|run-one|submit</c>: scaling sweeps from a JSON spec (see ArchLab.Scaling.SweepSpec).</summary>
public static class SweepCommand
{
    public static Command Create()
    {
        var command = new Command("sweep", "scaling sweeps: every architecture × size × budget of a JSON spec is one training run");
        command.Subcommands.Add(Plan());
        command.Subcommands.Add(RunAll());
        command.Subcommands.Add(RunOne());
        command.Subcommands.Add(Submit());
        return command;
    }

    static Argument<string> SpecArgument() => new("spec") { Description = "sweep spec JSON (e.g. experiments/scaling-quick/spec.json)" };
    static Option<string?> OutOption() => new("--out") { Description = "results folder (default: the spec's folder)" };
    static string OutDir(string spec, string? output) => output ?? Path.GetDirectoryName(Path.GetFullPath(spec))!;

    static Command Plan()
    {
        var spec = SpecArgument();
        var output = OutOption();
        var command = new Command("plan", "lists the runs a spec makes (shape, parameters, FLOPs per token, tokens, steps) and which are done") { spec, output };
        command.SetAction(p =>
        {
            var s = SweepSpec.Load(p.GetValue(spec)!);
            var finished = new RunsFile(Path.Combine(OutDir(p.GetValue(spec)!, p.GetValue(output)), "runs.jsonl")).Read();
            var done = finished.Select(r => r.Id).ToHashSet();
            var plans = SweepPlanner.Plan(s);
            Console.WriteLine($"{"run",-44} {"non-emb N",10} {"FLOP/token",11} {"tokens",12} {"tok/param",9} {"steps",7} {"compute",9}  done");
            foreach (var r in plans)
                Console.WriteLine($"{r.Id,-44} {r.NonEmbeddingParams,10:N0} {r.FlopsPerToken,11:N0} {r.Tokens,12:N0} {(double)r.Tokens / r.NonEmbeddingParams,9:N0} {r.Train.Steps,7} {r.Compute,9:0.00e0}  {(done.Contains(r.Id) ? "yes" : "")}");
            Console.WriteLine($"{plans.Count} runs, {plans.Sum(r => r.Compute):0.00e0} training FLOPs in all, {plans.Count(r => done.Contains(r.Id))} done");
            var ends = LadderCheck.Planned(s, plans, finished);
            Console.WriteLine(ends.Count == 0 ? "every budget's best size has a smaller and a larger size beside it"
                                              : $"{ends.Count} budget(s) whose best size is at an end of the ladder:");
            foreach (var end in ends) Console.WriteLine($"  {end}");
            return 0;
        });
        return command;
    }

    static Command RunAll()
    {
        var spec = SpecArgument();
        var output = OutOption();
        var workers = new Option<int>("--workers") { Description = "runs trained at once, each in its own process", DefaultValueFactory = _ => 1 };
        var retries = new Option<int>("--retries") { Description = "times a failed run is started again (from its latest checkpoint)", DefaultValueFactory = _ => 1 };
        var command = new Command("run", "runs the spec's pending runs here (resumable: finished runs are skipped)") { spec, output, workers, retries };
        command.SetAction(p =>
        {
            string specPath = p.GetValue(spec)!;
            var s = SweepSpec.Load(specPath);
            string outDir = OutDir(specPath, p.GetValue(output));
            PrepareOutDir(outDir);
            var plans = SweepPlanner.Plan(s, Path.Combine(outDir, PlanCacheFile));
            var self = SelfCommand();
            var summary = LocalSweepRunner.Run(plans, outDir, p.GetValue(workers), plan =>
            {
                var info = new ProcessStartInfo(self[0]);
                foreach (var a in self.Skip(1).Concat(["sweep", "run-one", specPath, "--out", outDir, "--run", plan.Id])) info.ArgumentList.Add(a);
                return info;
            }, Console.Out, p.GetValue(retries));
            Console.WriteLine($"{summary.Finished} runs finished now, {summary.AlreadyDone} earlier, {summary.Failed.Count} failed" +
                              (summary.Failed.Count > 0 ? ": " + string.Join(", ", summary.Failed) : ""));
            return summary.Failed.Count == 0 ? 0 : CliErrors.Failed;
        });
        return command;
    }

    static Command RunOne()
    {
        var spec = SpecArgument();
        var output = OutOption();
        var run = new Option<string>("--run") { Description = "run id (see `archlab sweep plan`)", Required = true };
        var device = new Option<string>("--device") { DefaultValueFactory = _ => "cpu" };
        var command = new Command("run-one", "trains one run of a spec and appends its result to runs.jsonl (what workers and Slurm tasks call)")
            { spec, output, run, device };
        command.SetAction(p =>
        {
            string specPath = p.GetValue(spec)!;
            var s = SweepSpec.Load(specPath);
            string outDir = OutDir(specPath, p.GetValue(output));
            PrepareOutDir(outDir);
            var plan = SweepPlanner.Plan(s, Path.Combine(outDir, PlanCacheFile)).FirstOrDefault(r => r.Id == p.GetValue(run))
                       ?? throw new ArgumentException($"--run: '{p.GetValue(run)}' is not a run of {specPath} (see `archlab sweep plan`)");
            TorchRuntime.SetThreads(s.Threads);
            var corpus = RunData.LoadCorpus(s.Data);
            var tokenizer = Tokenizers.Create(s.Tokenizer, corpus, Console.Out);
            using var tokens = TokenizedCorpus.Load(corpus, tokenizer, log: Console.Out);
            SweepRun.Execute(s, plan, tokens, outDir, TorchRuntime.ParseDevice(p.GetValue(device)!), Console.Out);
            return 0;
        });
        return command;
    }

    static Command Submit()
    {
        var spec = SpecArgument();
        var output = OutOption();
        var slurm = new Option<bool>("--slurm") { Description = "submit as a Slurm job array (the only scheduler so far)" };
        var dryRun = new Option<bool>("--dry-run") { Description = "print the sbatch script, submit nothing" };
        var partition = new Option<string?>("--partition") { Description = "Slurm partition" };
        var time = new Option<string?>("--time") { Description = "Slurm time limit per task, e.g. 01:00:00" };
        var command = new Command("submit", "submits the spec's pending runs to a cluster, one array task per run") { spec, output, slurm, dryRun, partition, time };
        command.SetAction(p =>
        {
            if (!p.GetValue(slurm)) throw new ArgumentException("sweep submit: say which scheduler (--slurm)");
            string specPath = p.GetValue(spec)!;
            var s = SweepSpec.Load(specPath);
            string outDir = OutDir(specPath, p.GetValue(output));
            var done = new RunsFile(Path.Combine(outDir, "runs.jsonl")).FinishedIds();
            var pending = SweepPlanner.Plan(s).Where(r => !done.Contains(r.Id)).ToList();
            if (pending.Count == 0) { Console.WriteLine("nothing to submit: every run is in runs.jsonl"); return 0; }
            string script = SlurmSubmitter.Script(s, pending, specPath, outDir, SelfCommand(), p.GetValue(partition), p.GetValue(time));
            if (p.GetValue(dryRun)) { Console.Write(script); return 0; }
            PrepareOutDir(outDir);
            string job = SlurmSubmitter.Submit(script, outDir);
            Console.WriteLine($"submitted job array {job}: {pending.Count} tasks; results append to {Path.Combine(outDir, "runs.jsonl")}");
            return 0;
        });
        return command;
    }

    /// <summary>How to start this CLI again: the apphost, or dotnet + the dll.</summary>
    static string[] SelfCommand()
    {
        string process = Environment.ProcessPath ?? "dotnet";
        string dll = typeof(SweepCommand).Assembly.Location;
        return Path.GetFileNameWithoutExtension(process) == "dotnet" ? [process, dll] : [process];
    }

    /// <summary>The planned runs of the spec, kept between the worker processes of one build (see SweepPlanner.Plan).</summary>
    const string PlanCacheFile = "plan-cache.json";

    /// <summary>Creates the results folder with a .gitignore for the bulky per-run folders.</summary>
    static void PrepareOutDir(string outDir)
    {
        Directory.CreateDirectory(outDir);
        string ignore = Path.Combine(outDir, ".gitignore");
        if (!File.Exists(ignore)) IO.AtomicFile.WriteAllText(ignore, $"runs/\nslurm/logs/\n*.lock\n{PlanCacheFile}\n");
    }
}
