namespace ArchLab.Notebooks;

/// <summary>The runner's host: which cell is running and where its outputs go.</summary>
internal sealed class NotebookSession(DisplayFormatter formatter, bool quick, string notebookDir, string outputDir, string scratchDir,
    CancellationToken interrupt) : INotebookHost
{
    CellOutputCollector? current;

    public bool Quick => quick;
    public string NotebookDir => notebookDir;
    public string OutputDir => outputDir;
    public string ScratchDir => scratchDir;
    public CancellationToken Interrupt => interrupt;

    public void BeginCell(int cellIndex, CellOutputCollector collector) { formatter.CurrentCell = cellIndex; current = collector; }

    public void EndCell() => current = null;

    public void Display(object? value)
    {
        var collector = current ?? throw new InvalidOperationException("display() was called outside a running cell");
        collector.Add(CellOutputs.DisplayData(Format(value)));
    }

    public MimeBundle Format(object? value) => formatter.Format(value);
}
