using ArchLab.Tests.TestSupport;
using System.Diagnostics;
using System.Text.Json.Nodes;
using ArchLab.Data;
using ArchLab.Reporting;

namespace ArchLab.Tests.Notebooks;

/// <summary>
/// CI executes every committed notebook in quick mode through a real Jupyter client (<c>jupyter nbconvert --execute</c>)
/// with the <c>.net-csharp</c> kernel (.NET Interactive), after <c>notebooks/setup-jupyter.sh --headless</c> installs
/// what that needs (Debian packages, the dotnet tool, the kernelspec, ArchLab's Release build). Filter with
/// <c>--filter Category!=Jupyter</c> to leave it out.
/// </summary>
[Trait("Category", "Jupyter")]
[Collection(NotebookProcesses.Name)]
public class JupyterNotebookTests(JupyterNotebookTests.JupyterSetup setup) : IClassFixture<JupyterNotebookTests.JupyterSetup>
{
    /// <summary>Runs <c>notebooks/setup-jupyter.sh --headless</c> once for the class.</summary>
    public sealed class JupyterSetup
    {
        public string Root { get; } = CacheDirectory.FindRepoRoot(AppContext.BaseDirectory) ?? throw new InvalidOperationException("repository root not found");
        public (int ExitCode, string Output) Result { get; }
        public JupyterSetup() => Result = Run("bash", [Path.Combine(Root, "notebooks", "setup-jupyter.sh"), "--headless"], Root, TimeSpan.FromMinutes(20));
    }

    [Fact]
    public void EveryNotebookRunsInQuickModeInTheDotNetInteractiveKernel()
    {
        Assert.True(setup.Result.ExitCode == 0, $"setup-jupyter.sh failed (exit {setup.Result.ExitCode}):\n{setup.Result.Output}");
        string notebooks = Path.Combine(setup.Root, "notebooks");

        string output = Directory.CreateTempSubdirectory("archlab-jupyter-notebooks-").FullName;
        try
        {
            var names = Directory.GetFiles(notebooks, "*.ipynb").Select(Path.GetFileName).OfType<string>().Order(StringComparer.Ordinal).ToList();
            Assert.NotEmpty(names);
            foreach (string name in names)
            {
                // --allow-errors: the executed notebook is written even when a cell fails, so the check below can name it
                var run = Run("jupyter", ["nbconvert", "--to", "notebook", "--execute", name, "--output-dir", output, "--allow-errors",
                    "--ExecutePreprocessor.timeout=300", "--ExecutePreprocessor.startup_timeout=300"], notebooks, TimeSpan.FromMinutes(10));
                Assert.True(run.ExitCode == 0, $"jupyter nbconvert --execute {name} failed (exit {run.ExitCode}):\n{run.Output}");
                CheckOutputs(name, TestNotebook.Read(Path.Combine(output, name)));
            }
        }
        finally { Directory.Delete(output, true); }
    }

    /// <summary>No cell errored; the setup cell reports the kernel host in quick mode; every cell that displays something
    /// shows it as HTML; every chart is an offline-drawing HTML chart, with a PNG when Chromium is installed.</summary>
    static void CheckOutputs(string name, JsonObject notebook)
    {
        var code = notebook["cells"]!.AsArray().Select(c => c!.AsObject()).Where(c => c["cell_type"]!.GetValue<string>() == "code").ToList();
        foreach (var (cell, i) in code.Select((c, i) => (c, i)))
        {
            var outputs = cell["outputs"]!.AsArray().Select(o => o!.AsObject()).ToList();
            var error = outputs.FirstOrDefault(o => o["output_type"]!.GetValue<string>() == "error");
            Assert.True(error is null, $"{name}: code cell {i} failed: {error?["ename"]}: {error?["evalue"]}\n{string.Join("\n", error?["traceback"]?.AsArray().Select(t => t!.GetValue<string>()) ?? [])}");
            string source = Join(cell["source"]);
            var html = outputs.Select(o => Join(o["data"]?["text/html"])).Where(h => h.Length > 0).ToList();
            if (source.Contains("display(")) Assert.True(html.Count > 0, $"{name}: code cell {i} displayed nothing as text/html");
            if (source.Contains("LineChart.Create") || source.Contains("ScalingPlots."))
            {
                var charts = outputs.Where(o => Join(o["data"]?["text/html"]).Contains("archlab-chart-")).ToList();
                Assert.True(charts.Count > 0, $"{name}: code cell {i} drew no chart");
                Assert.All(charts, c => Assert.Contains("plotly-2.28.0.min.js", Join(c["data"]!["text/html"])));
                if (ChartFile.FindChromium() is not null)
                    Assert.All(charts, c => Assert.True(c["data"]!["image/png"] is not null, $"{name}: cell {i}: a chart without its PNG"));
            }
        }
        Assert.Contains("ArchLab ready in the .NET Interactive kernel: Quick = True",
            string.Concat(code[0]["outputs"]!.AsArray().Select(o => Join(o!["text"]))));
    }

    static string Join(JsonNode? node) => node switch
    {
        JsonArray lines => string.Concat(lines.Select(l => l!.GetValue<string>())),
        JsonValue v => v.GetValue<string>(),
        _ => "",
    };

    static (int ExitCode, string Output) Run(string file, string[] args, string workingDir, TimeSpan limit)
    {
        var info = new ProcessStartInfo(file) { WorkingDirectory = workingDir, RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        foreach (string a in args) info.ArgumentList.Add(a);
        info.Environment["ARCHLAB_QUICK"] = "1";
        info.Environment["ARCHLAB_THREADS"] = "1"; // on a busy 2-core machine two libtorch threads spin (see notebooks/README.md)
        using var process = Process.Start(info)!;
        var stdout = process.StandardOutput.ReadToEndAsync();
        var stderr = process.StandardError.ReadToEndAsync();
        if (!process.WaitForExit(limit))
        {
            process.Kill(entireProcessTree: true);
            throw new TimeoutException($"{file} {string.Join(' ', args)} did not finish in {limit.TotalMinutes} minutes");
        }
        return (process.ExitCode, stdout.Result + stderr.Result);
    }
}
