using System.Diagnostics;
using System.Text.Json.Nodes;
using Microsoft.CodeAnalysis;
using Microsoft.CodeAnalysis.CSharp.Scripting;
using Microsoft.CodeAnalysis.Scripting;

namespace ArchLab.Notebooks;

/// <summary>
/// Runs the C# code cells of an nbformat 4 notebook in order, in one script state (Roslyn scripting), as a .NET
/// Interactive kernel would: ArchLab, TorchSharp and Plotly.NET are referenced and imported, <c>#r "nuget: …"</c> and
/// <c>#r "path"</c> add references, <c>#!</c> magic lines are skipped, console output and <c>display(...)</c> become the
/// cell's outputs, and the value of a cell's last expression is its result. The first failing cell stops the run; the
/// notebook is written after every cell, with the outputs so far (the error included).
/// </summary>
public static class NotebookRunner
{
    public const string CSharpKernel = ".net-csharp";

    public static NotebookRunResult Run(string notebookPath, NotebookRunOptions options)
    {
        var clock = Stopwatch.StartNew();
        var notebook = Notebook.Load(notebookPath);
        if (notebook.KernelName is string kernel && kernel != CSharpKernel)
            throw new ArgumentException($"{notebookPath}: kernel '{kernel}' is not C# ({CSharpKernel})");

        string notebookDir = Path.GetDirectoryName(Path.GetFullPath(notebookPath))!;
        // absolute: the working directory becomes the notebook's folder while the cells run
        string outputPath = Path.GetFullPath(options.OutDir is null ? notebookPath : Path.Combine(options.OutDir, Path.GetFileName(notebookPath)));
        string outputDir = Path.GetDirectoryName(Path.GetFullPath(outputPath))!;
        string filesDir = Path.Combine(outputDir, Path.GetFileNameWithoutExtension(outputPath) + "_files");
        if (Directory.Exists(filesDir)) Directory.Delete(filesDir, recursive: true); // charts of an earlier run
        string scratch = Directory.CreateTempSubdirectory("archlab-notebook-").FullName;

        foreach (var cell in notebook.Cells) cell.ClearOutputs();
        var session = new NotebookSession(new DisplayFormatter(new ChartOutput(outputDir, filesDir, scratch)),
            options.Quick, notebookDir, outputDir, scratch, options.Interrupt);
        var scriptOptions = ScriptEnvironment.Create(notebookDir);
        var provided = ScriptEnvironment.ReferencedAssemblyNames(scriptOptions);
        var packages = new PackageResolver();
        var timings = new List<CellTiming>();
        CellFailure? failure = null;
        bool timedOut = false;

        var (stdout, stderr) = (Console.Out, Console.Error);
        string workingDir = Environment.CurrentDirectory;
        NotebookGlobals.UseScoped(session); // before the cells' thread starts: it inherits the host
        using var cells = new CellThread();
        try
        {
            Environment.CurrentDirectory = notebookDir;
            ScriptState<object>? state = cells.Run(() => CSharpScript.RunAsync(ScriptEnvironment.Prelude, scriptOptions).GetAwaiter().GetResult(), null);
            int executionCount = 0;
            foreach (var cell in notebook.Cells.Where(c => c.IsCode))
            {
                var source = CellSource.Parse(cell.Source, cell.MetadataLanguage, provided);
                if (!source.IsCSharp)
                {
                    options.Log?.WriteLine($"  cell {cell.Index}: skipped ({source.Language} is not C#)");
                    continue;
                }
                if (source.IsBlank && source.Packages.Count == 0) continue;

                executionCount++;
                var collector = new CellOutputCollector(options.Echo);
                var cellClock = Stopwatch.StartNew();
                string? error = null;
                try
                {
                    var notes = new List<string>();
                    foreach (var package in source.Packages)
                    {
                        var files = packages.Resolve(package.Name, package.Version, notes);
                        scriptOptions = scriptOptions.AddReferences(files.Select(f => MetadataReference.CreateFromFile(f)));
                    }
                    foreach (var note in notes) collector.Write("stderr", note + "\n");

                    Console.SetOut(collector.Stdout);
                    Console.SetError(collector.Stderr);
                    session.BeginCell(cell.Index, collector);
                    var currentOptions = scriptOptions;
                    var previous = state;
                    state = cells.Run(() => previous.ContinueWithAsync(source.Code, currentOptions).GetAwaiter().GetResult(), options.CellTimeout);
                    if (state.ReturnValue is not null)
                        collector.Add(CellOutputs.ExecuteResult(executionCount, session.Format(state.ReturnValue)));
                }
                catch (Exception e)
                {
                    timedOut = e is CellTimeoutException;
                    error = Describe(e, collector);
                }
                finally
                {
                    session.EndCell();
                    Console.SetOut(stdout);
                    Console.SetError(stderr);
                }
                cell.SetOutputs(collector.Outputs, executionCount);
                notebook.Save(outputPath); // after every cell, so a long run shows its progress and a crash keeps what ran
                timings.Add(new CellTiming(cell.Index, cell.FirstLine, cellClock.Elapsed));
                options.Log?.WriteLine($"  cell {cell.Index} [{cellClock.Elapsed.TotalSeconds,6:F1} s] {Shorten(cell.FirstLine)}");
                if (error is not null)
                {
                    failure = new CellFailure(cell.Index, cell.FirstLine, error);
                    break;
                }
            }
        }
        finally
        {
            Console.SetOut(stdout);
            Console.SetError(stderr);
            Environment.CurrentDirectory = workingDir;
            NotebookGlobals.UseScoped(null);
            if (!timedOut) TryDelete(scratch); // an abandoned cell may still be using it
        }
        notebook.Save(outputPath);
        return new NotebookRunResult(notebookPath, outputPath, timings, failure, clock.Elapsed);
    }

    /// <summary>Adds the error output for <paramref name="e"/>; returns a one-line description.</summary>
    static string Describe(Exception e, CellOutputCollector collector)
    {
        if (e is AggregateException { InnerException: { } inner }) e = inner;
        switch (e)
        {
            case CompilationErrorException compile:
            {
                var errors = compile.Diagnostics.Where(d => d.Severity == DiagnosticSeverity.Error).Select(FormatDiagnostic).ToList();
                collector.Add(CellOutputs.Error("CompilationError", string.Join("; ", errors), errors));
                return "compilation error: " + string.Join("; ", errors);
            }
            case CellTimeoutException timeout:
                collector.Add(CellOutputs.Error("CellTimeout", timeout.Message, [timeout.Message]));
                return timeout.Message;
            default:
            {
                var trace = new List<string> { $"{e.GetType().FullName}: {e.Message}" };
                trace.AddRange((e.StackTrace ?? "").Split('\n').Select(l => l.TrimEnd())
                    .Where(l => l.Length > 0 && !l.Contains("Microsoft.CodeAnalysis.Scripting")));
                collector.Add(CellOutputs.Error(e.GetType().Name, e.Message, trace));
                return $"{e.GetType().Name}: {e.Message}";
            }
        }
    }

    /// <summary>"(line,col): error CSxxxx: message" with the line counted within the cell.</summary>
    static string FormatDiagnostic(Diagnostic d)
    {
        var span = d.Location.GetLineSpan();
        string where = d.Location.IsInSource ? $"({span.StartLinePosition.Line + 1},{span.StartLinePosition.Character + 1}): " : "";
        return $"{where}error {d.Id}: {d.GetMessage()}";
    }

    public static string Shorten(string line, int max = 70) => line.Length <= max ? line : line[..(max - 1)] + "…";

    static void TryDelete(string dir)
    {
        try { Directory.Delete(dir, recursive: true); } catch (IOException) { } catch (UnauthorizedAccessException) { }
    }
}
