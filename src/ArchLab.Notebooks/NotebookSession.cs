using System.Collections;
using ArchLab.Notebooks.Display;
using Plotly.NET;
using TorchSharp;

namespace ArchLab.Notebooks;

/// <summary>The per-run state behind <see cref="NotebookGlobals"/>: which cell is running and where its outputs go.</summary>
internal sealed class NotebookSession(ChartOutput charts)
{
    CellOutputCollector? current;
    int currentCell;

    public void BeginCell(int cellIndex, CellOutputCollector collector) { currentCell = cellIndex; current = collector; }

    public void EndCell() => current = null;

    public void Display(object? value)
    {
        var collector = current ?? throw new InvalidOperationException("display() was called outside a running cell");
        collector.Add(CellOutputs.DisplayData(Format(value)));
    }

    public MimeBundle Format(object? value) => value switch
    {
        null => new MimeBundle("null"),
        string s => new MimeBundle(s),
        Markdown m => new MimeBundle(m.Text).Add("text/markdown", m.Text),
        Html h => new MimeBundle(h.Text).Add("text/html", h.Text),
        MimeBundle b => b,
        GenericChart chart => charts.Save(chart, currentCell),
        torch.Tensor t => new MimeBundle(t.ToString(TensorStringStyle.Julia)),
        IDictionary d => TableFormatter.Format(d.Cast<DictionaryEntry>()),
        IEnumerable e when TableFormatter.IsTable(e) => TableFormatter.Format(e),
        _ => new MimeBundle(value.ToString() ?? ""),
    };
}
