using Plotly.NET;
using Plotly.NET.LayoutObjects;
using CSharpChart = Plotly.NET.CSharp.Chart;
using Plotly.NET.CSharp;

namespace ArchLab.Reporting;

/// <summary>One named line of (x, y) points.</summary>
public sealed record Series(string Name, IReadOnlyList<double> X, IReadOnlyList<double> Y);

/// <summary>
/// The charts the studies draw: lines with markers, one per series, with titled and optionally logarithmic axes.
/// Anything fancier can use Plotly.NET directly and still be saved with <see cref="ChartFile"/>.
/// </summary>
public static class LineChart
{
    public static GenericChart Create(string title, string xTitle, string yTitle, IEnumerable<Series> series,
        bool logX = false, bool logY = false)
    {
        var traces = series.Select(s => CSharpChart.Line<double, double, string>(
            x: s.X, y: s.Y, Name: s.Name, ShowMarkers: true)).ToList();
        if (traces.Count == 0) throw new ArgumentException("A chart needs at least one series.", nameof(series));
        GenericChart chart = CSharpChart.Combine(traces);
        chart = chart.WithXAxisStyle<double, double, string>(TitleText: xTitle,
            AxisType: logX ? StyleParam.AxisType.Log : StyleParam.AxisType.Linear);
        chart = chart.WithYAxisStyle<double, double, string>(TitleText: yTitle,
            AxisType: logY ? StyleParam.AxisType.Log : StyleParam.AxisType.Linear);
        return Plotly.NET.Chart.withTitle(title, null).Invoke(chart);
    }
}
