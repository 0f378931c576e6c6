using System.Collections;
using ArchLab.Notebooks.Display;
using ArchLab.Reporting;
using TorchSharp;

namespace ArchLab.Notebooks;

/// <summary>Turns a displayed value into its MIME bundle, the same for both hosts.</summary>
public sealed class DisplayFormatter(ChartOutput charts)
{
    /// <summary>The code cell being run (names the chart files).</summary>
    public int CurrentCell { get; set; }

    public MimeBundle Format(object? value) => value switch
    {
        null => new MimeBundle("null"),
        string s => new MimeBundle(s),
        Markdown m => new MimeBundle(m.Text).Add("text/markdown", m.Text),
        Html h => new MimeBundle(h.Text).Add("text/html", h.Text),
        MimeBundle b => b,
        Figure figure => charts.Save(figure, CurrentCell),
        torch.Tensor t => new MimeBundle(t.ToString(TensorStringStyle.Julia)),
        IDictionary d => TableFormatter.Format(d.Cast<DictionaryEntry>()),
        IEnumerable e when TableFormatter.IsTable(e) => TableFormatter.Format(e),
        _ when PlotlyNetFigure.TryConvert(value) is { } figure => charts.Save(figure, CurrentCell),
        _ => new MimeBundle(value.ToString() ?? ""),
    };
}
