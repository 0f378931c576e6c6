using System.CommandLine;
using System.Diagnostics;
using ArchLab.Data;

namespace ArchLab.Cli.Commands;

/// <summary><c>archlab notebook setup [--headless]</c>: runs notebooks/setup-jupyter.sh (Jupyter, the .NET Interactive
/// kernel, ArchLab's Release build), so the notebooks open in Jupyter and VS Code.</summary>
public static class NotebookSetupCommand
{
    public static Command Create()
    {
        var headless = new Option<bool>("--headless") { Description = "only what headless execution needs (no jupyter-notebook, no chromium)" };
        var setup = new Command("setup", "install Jupyter (Debian), the .NET Interactive kernel and ArchLab's build for the notebooks") { headless };
        setup.SetAction(p =>
        {
            string root = CacheDirectory.FindRepoRoot(AppContext.BaseDirectory) ?? CacheDirectory.FindRepoRoot(Environment.CurrentDirectory)
                          ?? throw new ArgumentException("run this from an ArchLab checkout (notebooks/setup-jupyter.sh is part of it)");
            var start = new ProcessStartInfo("bash") { UseShellExecute = false };
            start.ArgumentList.Add(Path.Combine(root, "notebooks", "setup-jupyter.sh"));
            if (p.GetValue(headless)) start.ArgumentList.Add("--headless");
            using var process = Process.Start(start)!;
            process.WaitForExit();
            return process.ExitCode;
        });
        return setup;
    }
}
