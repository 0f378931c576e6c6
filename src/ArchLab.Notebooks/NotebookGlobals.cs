using ArchLab.Notebooks.Display;

namespace ArchLab.Notebooks;

/// <summary>
/// What every cell sees besides its own variables, the same in both hosts (<c>using static ArchLab.Notebooks.NotebookGlobals;</c>
/// in the setup cell; the runner also imports it implicitly): <see cref="Quick"/>, the folders a notebook works in,
/// <see cref="Interrupt"/>, and <c>display(...)</c> for tables, charts and text.
/// </summary>
public static class NotebookGlobals
{
    static readonly AsyncLocal<INotebookHost?> scoped = new();
    static INotebookHost? processHost;

    /// <summary>The host of the running notebook: the runner's (scoped to its cells' thread) or the kernel's.</summary>
    public static INotebookHost Host => scoped.Value ?? processHost
        ?? throw new InvalidOperationException("no notebook host: call ArchLab.Notebooks.NotebookRuntime.Prepare() in the first cell");

    internal static bool HasHost => scoped.Value is not null || processHost is not null;

    /// <summary>Makes <paramref name="host"/> current for this thread and the threads it starts (the runner).</summary>
    internal static void UseScoped(INotebookHost? host) => scoped.Value = host;

    /// <summary>Makes <paramref name="host"/> current for the whole process (the kernel).</summary>
    internal static void UseForProcess(INotebookHost host) => processHost = host;

    /// <summary>True with <c>ARCHLAB_QUICK=1</c> (<c>archlab notebook run --quick</c>, CI): cells pick tiny step counts and sizes.</summary>
    public static bool Quick => Host.Quick;
    /// <summary>The folder of the notebook being run (also the working directory while it runs).</summary>
    public static string NotebookDir => Host.NotebookDir;
    /// <summary>The folder the executed notebook is written to.</summary>
    public static string OutputDir => Host.OutputDir;
    /// <summary>A fresh temporary folder for run folders and checkpoints; deleted when the run (or kernel) ends.</summary>
    public static string ScratchDir => Host.ScratchDir;
    /// <summary>Tripped by the kernel's interrupt (Jupyter's stop button) or Ctrl+C in the runner: pass it to
    /// <c>Trainer.Run</c>, <c>RecallStudy.Run</c> and sweeps, which stop at their next step.</summary>
    public static CancellationToken Interrupt => Host.Interrupt;

    /// <summary>Shows a value: a chart (<see cref="ArchLab.Reporting.Figure"/>) as interactive HTML plus a PNG, a sequence
    /// of records as a table (HTML, markdown, text), a <see cref="Markdown"/> or <see cref="Html"/> snippet, anything else as text.</summary>
    public static void display(object? value) => Host.Display(value);

    /// <summary>Shows markdown text (rendered by Jupyter and GitHub).</summary>
    public static void displayMarkdown(string markdown) => Host.Display(new Markdown(markdown));

    /// <summary>Shows an HTML snippet.</summary>
    public static void displayHtml(string html) => Host.Display(new Html(html));
}
