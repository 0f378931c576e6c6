using System.Runtime.CompilerServices;
using ArchLab.Reporting;

namespace ArchLab.Notebooks;

/// <summary>
/// A Plotly.NET chart a cell made itself (possible in the runner, which loads Plotly.NET with its FSharp.Core 10.1),
/// converted to a <see cref="Figure"/> through its figure JSON. Plotly.NET is touched only when the value's type comes
/// from it, so hosts where it cannot run (the kernel's FSharp.Core 10.0) never load it here.
/// </summary>
internal static class PlotlyNetFigure
{
    public static Figure? TryConvert(object value) =>
        value.GetType().Assembly.GetName().Name == "Plotly.NET" ? Convert(value) : null;

    [MethodImpl(MethodImplOptions.NoInlining)]
    static Figure? Convert(object value) =>
        value is Plotly.NET.GenericChart chart ? Figure.FromJson(Plotly.NET.GenericChart.toFigureJson(chart)) : null;
}
