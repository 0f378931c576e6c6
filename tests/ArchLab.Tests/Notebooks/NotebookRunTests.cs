using System.Diagnostics;
using ArchLab.Tests.TestSupport;

namespace ArchLab.Tests.Notebooks;

/// <summary><c>archlab notebook run</c> through the real CLI process: outputs, failures, packages, time limits.</summary>
[Trait("Category", Category.Cli)]
[Collection(NotebookProcesses.Name)]
public class NotebookRunTests
{
    [Fact]
    public void WritesOutputsBackSkipsMagicsAndSetsQuick()
    {
        using var nb = new TestNotebook(
            "md:# A test",
            "#!csharp\n#!time\nConsole.WriteLine($\"quick={Quick}\");\nvar rows = new[] { new { Arch = \"mamba\", Loss = 2.5 } };",
            "display(rows);\nvar chart = LineChart.Create(\"t\", \"x\", \"y\", [new Series(\"s\", [1.0, 2.0], [3.0, 4.0])]);\ndisplay(chart);",
            "1 + 2",
            "#r \"lib/xunit.assert.dll\"\nXunit.Assert.Equal(3, 1 + 2);");
        Directory.CreateDirectory(Path.Combine(nb.Dir, "lib")); // #r "path" is relative to the notebook
        File.Copy(Path.Combine(AppContext.BaseDirectory, "xunit.assert.dll"), Path.Combine(nb.Dir, "lib", "xunit.assert.dll"));
        var (code, stdout, stderr) = ArchLabCli.Run("notebook", "run", nb.Path, "--quick");
        Assert.True(code == 0, stdout + stderr);

        var written = TestNotebook.Read(nb.Path); // no --out: outputs go back into the notebook itself
        Assert.Equal(4, written["nbformat"]!.GetValue<int>());
        Assert.Equal(".net-csharp", written["metadata"]!["kernelspec"]!["name"]!.GetValue<string>());
        Assert.Equal("quick=True\n", TestNotebook.Text(written, 1, "stream"));
        Assert.Contains("| mamba | 2.5 |", TestNotebook.Text(written, 2, "text/markdown"));
        var chartOutput = TestNotebook.Outputs(written, 2)[1]!["data"]!;
        Assert.NotNull(chartOutput["application/vnd.plotly.v1+json"]!["data"]);
        Assert.Contains("test_files/cell02-chart1.html", TestNotebook.Text(written, 2, "text/html"));
        Assert.True(File.Exists(Path.Combine(nb.Dir, "test_files", "cell02-chart1.html")));
        Assert.Equal("3", TestNotebook.Text(written, 3, "text/plain"));
        Assert.Equal(3, written["cells"]![3]!["execution_count"]!.GetValue<int>());
        Assert.Equal(4, written["cells"]![4]!["execution_count"]!.GetValue<int>());
    }

    [Fact]
    public void TheSetupCellRunsAndTablesAreHtmlToo()
    {
        string root = ArchLab.Data.CacheDirectory.FindRepoRoot(AppContext.BaseDirectory)!;
        string setup = string.Concat(TestNotebook.Read(Path.Combine(root, "notebooks", "05-scaling.ipynb"))["cells"]!.AsArray()
            .First(c => c!["cell_type"]!.GetValue<string>() == "code")!["source"]!.AsArray().Select(l => l!.GetValue<string>()));
        Assert.Contains("NotebookRuntime.Prepare()", setup);
        // the notebook lives elsewhere: the setup cell's #r paths do not exist there, and the runner keeps its own copies
        using var nb = new TestNotebook(setup, "display(new[] { new { Arch = \"mamba\", Loss = 2.5 } });\nConsole.WriteLine(Interrupt.IsCancellationRequested);");
        var (code, stdout, stderr) = ArchLabCli.Run("notebook", "run", nb.Path);
        Assert.True(code == 0, stdout + stderr);
        var written = TestNotebook.Read(nb.Path);
        Assert.Contains("ArchLab ready in the archlab notebook run: Quick = False", TestNotebook.Text(written, 0, "stream"));
        Assert.Contains("<td>mamba</td><td>2.5</td>", TestNotebook.Text(written, 1, "text/html"));
        Assert.Contains("False", TestNotebook.Text(written, 1, "stream"));
    }

    [Fact]
    public async Task CtrlCTripsTheCellsInterruptTokenAndTheRunGoesOn()
    {
        using var nb = new TestNotebook(
            "File.WriteAllText(\"started\", \"\");\nwhile (!Interrupt.IsCancellationRequested) Thread.Sleep(20);\nConsole.WriteLine(\"interrupted\");",
            "Console.WriteLine(\"next cell\");");
        // `env --default-signal=INT`: a process started from a background job inherits SIGINT as ignored (POSIX keeps
        // SIG_IGN across exec, and .NET honours it), and then no Ctrl+C could reach the runner.
        var info = new ProcessStartInfo("env") { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        foreach (string a in new[] { "--default-signal=INT", "dotnet", ArchLabCli.DllPath, "notebook", "run", nb.Path }) info.ArgumentList.Add(a);
        info.Environment["DOTNET_GCgen0size"] = "0x20000000";
        using var process = Process.Start(info)!;
        var stdout = process.StandardOutput.ReadToEndAsync();
        var stderr = process.StandardError.ReadToEndAsync();
        string started = Path.Combine(nb.Dir, "started");
        for (int i = 0; i < 1200 && !File.Exists(started) && !process.HasExited; i++) Thread.Sleep(100);
        if (!File.Exists(started)) { if (!process.HasExited) process.Kill(true); Assert.Fail("the cell never started: " + await stderr); }
        using (var kill = Process.Start("kill", ["-INT", process.Id.ToString()])) kill.WaitForExit();
        if (!process.WaitForExit(TimeSpan.FromMinutes(2))) { process.Kill(true); Assert.Fail("Ctrl+C did not stop the waiting cell"); }
        Assert.True(process.ExitCode == 0, await stdout + await stderr);
        var written = TestNotebook.Read(nb.Path);
        Assert.Equal("archlab: interrupting the running cell (Ctrl+C again ends the process)\ninterrupted\n", TestNotebook.Text(written, 0, "stream"));
        Assert.Equal("next cell\n", TestNotebook.Text(written, 1, "stream"));
    }

    [Fact]
    public void FailingCellExitsNonZeroNamingTheCell()
    {
        using var nb = new TestNotebook(
            "var a = 1;",
            "md:text",
            "Console.WriteLine(\"before\");\nthrow new InvalidOperationException(\"boom in the third cell\");",
            "Console.WriteLine(\"after\");");
        string outDir = Path.Combine(nb.Dir, "out");
        var (code, stdout, stderr) = ArchLabCli.Run("notebook", "run", nb.Path, "--out", Path.GetRelativePath(Environment.CurrentDirectory, outDir));

        Assert.NotEqual(0, code);
        Assert.Contains("cell 2 failed", stderr);
        Assert.Contains("Console.WriteLine(\"before\");", stderr); // the cell's first line
        Assert.Contains("boom in the third cell", stderr);
        var written = TestNotebook.Read(Path.Combine(outDir, "test.ipynb"));
        Assert.Equal("before\n", TestNotebook.Text(written, 2, "stream"));
        Assert.Contains(TestNotebook.Outputs(written, 2), o => o!["output_type"]!.GetValue<string>() == "error"
                                                              && o["evalue"]!.GetValue<string>() == "boom in the third cell");
        Assert.Empty(TestNotebook.Outputs(written, 3)); // never ran
        Assert.Empty(TestNotebook.Outputs(TestNotebook.Read(nb.Path), 2)); // --out leaves the source notebook alone
    }

    [Fact]
    public void CompilationErrorNamesTheCell()
    {
        using var nb = new TestNotebook("var ok = 1;", "int x = \"not a number\";");
        var (code, _, stderr) = ArchLabCli.Run("notebook", "run", nb.Path);
        Assert.NotEqual(0, code);
        Assert.Contains("cell 1 failed", stderr);
        Assert.Contains("CS0029", stderr);
    }

    [Fact]
    public void NuGetReferencesResolveFromRestoredPackagesAndUnknownOnesFailByName()
    {
        using var known = new TestNotebook("#r \"nuget: xunit.assert, 2.9.3\"\n#r \"nuget: Spectre.Console\"\nXunit.Assert.Equal(2, 1 + 1);\nSpectre.Console.Markup.Escape(\"[x]\")");
        var ok = ArchLabCli.Run("notebook", "run", known.Path);
        Assert.True(ok.ExitCode == 0, ok.Stdout + ok.Stderr);
        Assert.Equal("[[x]]", TestNotebook.Text(TestNotebook.Read(known.Path), 0, "text/plain"));

        using var unknown = new TestNotebook("#r \"nuget: ArchLab.No.Such.Package, 9.9.9\"\nConsole.WriteLine(1);");
        var (code, _, stderr) = ArchLabCli.Run("notebook", "run", unknown.Path);
        Assert.NotEqual(0, code);
        Assert.Contains("cell 0 failed", stderr);
        Assert.Contains("'ArchLab.No.Such.Package'", stderr);
    }

    [Fact]
    public void CellTimeoutStopsARunawayCell()
    {
        using var nb = new TestNotebook("Console.WriteLine(\"start\");", "System.Threading.Thread.Sleep(600_000);", "Console.WriteLine(\"never\");");
        var (code, _, stderr) = ArchLabCli.Run("notebook", "run", nb.Path, "--cell-timeout", "30"); // the first cell must fit too, on a loaded machine
        Assert.NotEqual(0, code); // the cell sleeps 10 minutes: only the limit can have stopped it with this error
        Assert.Contains("cell 1 failed", stderr);
        Assert.Contains("time limit of 30 s", stderr);
        Assert.Contains(TestNotebook.Outputs(TestNotebook.Read(nb.Path), 1), o => o!["ename"]?.GetValue<string>() == "CellTimeout");
    }

    [Fact]
    public void MissingNotebookIsABadArgument()
    {
        var (code, _, stderr) = ArchLabCli.Run("notebook", "run", "/nonexistent/x.ipynb");
        Assert.Equal(2, code);
        Assert.Contains("notebook not found", stderr);
    }
}
