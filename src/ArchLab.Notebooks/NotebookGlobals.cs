using ArchLab.Notebooks.Display;

namespace ArchLab.Notebooks;

/// <summary>
/// What every cell sees besides its own variables: <see cref="Quick"/> (set by <c>--quick</c>: cells choose tiny
/// settings), the folders a notebook works in, and <c>display(...)</c> for tables, charts and text.
/// </summary>
public sealed class NotebookGlobals
{
    readonly NotebookSession session;

    internal NotebookGlobals(NotebookSession session, bool quick, string notebookDir, string outputDir, string scratchDir)
    {
        this.session = session;
        Quick = quick;
        NotebookDir = notebookDir;
        OutputDir = outputDir;
        ScratchDir = scratchDir;
    }

    /// <summary>True under <c>archlab notebook run --quick</c> (CI): cells pick tiny step counts and sizes.</summary>
    public bool Quick { get; }
    /// <summary>The folder of the notebook being run (also the working directory while it runs).</summary>
    public string NotebookDir { get; }
    /// <summary>The folder the executed notebook is written to.</summary>
    public string OutputDir { get; }
    /// <summary>A fresh temporary folder for run folders and checkpoints; deleted when the notebook finishes.</summary>
    public string ScratchDir { get; }

    /// <summary>Shows a value: a chart (saved as HTML beside the notebook, see <see cref="ChartOutput"/>), a sequence of
    /// records as a table, a <see cref="Markdown"/> or <see cref="Html"/> snippet, anything else as text.</summary>
    public void display(object? value) => session.Display(value);

    /// <summary>Shows markdown text (rendered by Jupyter and GitHub).</summary>
    public void displayMarkdown(string markdown) => session.Display(new Markdown(markdown));

    /// <summary>Shows an HTML snippet.</summary>
    public void displayHtml(string html) => session.Display(new Html(html));
}
