using System.CommandLine;
using ArchLab.Notebooks;
using ArchLab.Runtime;

namespace ArchLab.Cli.Commands;

/// <summary><c>archlab notebook run PATH...</c>: executes C# notebooks headless and writes their outputs back.</summary>
public static class NotebookCommand
{
    public static Command Create()
    {
        var paths = new Argument<string[]>("paths") { Description = ".ipynb files or folders holding them", Arity = ArgumentArity.OneOrMore };
        var quick = new Option<bool>("--quick") { Description = "sets ARCHLAB_QUICK=1, so the global Quick is true: tiny settings (CI)" };
        var output = new Option<string?>("--out") { Description = "folder for the executed notebooks (default: write outputs back into each notebook)" };
        var cellTimeout = new Option<double>("--cell-timeout") { Description = "seconds a single cell may run (0: no limit)", DefaultValueFactory = _ => 0 };
        var echo = new Option<bool>("--echo") { Description = "also print the cells' console output as they run" };
        var threads = new Option<int>("--threads") { Description = "libtorch threads (0: all cores)" };
        var run = new Command("run", "run the C# code cells of notebooks in order and write their outputs")
        {
            paths, quick, output, cellTimeout, echo, threads,
        };
        run.SetAction(p =>
        {
            double timeout = p.GetValue(cellTimeout);
            if (timeout < 0 || double.IsNaN(timeout)) throw new ArgumentException($"--cell-timeout must be ≥ 0 seconds, got {timeout}");
            TorchRuntime.SetThreads(p.GetValue(threads));
            var notebooks = Expand(p.GetValue(paths)!);
            // The one place both hosts read Quick from: the kernel sees it when started from this environment too.
            if (p.GetValue(quick)) Environment.SetEnvironmentVariable(NotebookRuntime.QuickVariable, "1");
            // Ctrl+C trips the cells' Interrupt token (trainers stop at their next step); a second Ctrl+C ends the process.
            using var interrupt = new CancellationTokenSource();
            ConsoleCancelEventHandler onCancel = (_, e) =>
            {
                if (interrupt.IsCancellationRequested) return;
                e.Cancel = true;
                interrupt.Cancel();
                Console.Error.WriteLine("archlab: interrupting the running cell (Ctrl+C again ends the process)");
            };
            Console.CancelKeyPress += onCancel;
            var options = new NotebookRunOptions
            {
                Quick = NotebookRuntime.QuickFromEnvironment(),
                Interrupt = interrupt.Token,
                OutDir = p.GetValue(output),
                CellTimeout = timeout > 0 ? TimeSpan.FromSeconds(timeout) : null,
                Log = Console.Out,
                Echo = p.GetValue(echo) ? Console.Out : null,
            };
            int failed = 0;
            foreach (string path in notebooks)
            {
                Console.WriteLine($"{path}{(options.Quick ? " (quick)" : "")}:");
                var result = NotebookRunner.Run(path, options);
                if (result.Failure is { } f)
                {
                    failed++;
                    Console.Error.WriteLine($"archlab: {path}: cell {f.Index} failed ({NotebookRunner.Shorten(f.FirstLine)}): {f.Error}");
                }
                Console.WriteLine($"  {(result.Succeeded ? "ok" : "FAILED")}: {result.Cells.Count} cells in {result.Elapsed.TotalSeconds:F1} s → {result.OutputPath}");
            }
            Console.CancelKeyPress -= onCancel;
            return failed == 0 ? 0 : CliErrors.Failed;
        });
        return new Command("notebook", "C# notebooks (.ipynb): run by ArchLab itself, or set up for Jupyter and VS Code") { run, NotebookSetupCommand.Create() };
    }

    /// <summary>Files as given; folders expand to their .ipynb files in name order.</summary>
    static List<string> Expand(string[] paths)
    {
        var result = new List<string>();
        foreach (string path in paths)
        {
            if (Directory.Exists(path))
            {
                var found = Directory.GetFiles(path, "*.ipynb").OrderBy(f => f, StringComparer.Ordinal).ToList();
                if (found.Count == 0) throw new ArgumentException($"no .ipynb notebooks in {path}");
                result.AddRange(found);
            }
            else if (File.Exists(path)) result.Add(path);
            else throw new ArgumentException($"notebook not found: {path}");
        }
        return result;
    }
}
