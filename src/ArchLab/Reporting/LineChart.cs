using System.Text.Json.Nodes;

namespace ArchLab.Reporting;

/// <summary>One named line of (x, y) points.</summary>
public sealed record Series(string Name, IReadOnlyList<double> X, IReadOnlyList<double> Y);

/// <summary>
/// The charts the studies draw: lines with markers, one per series, with titled and optionally logarithmic axes.
/// Anything fancier can build a <see cref="Figure"/> from Plotly JSON and still be saved with <see cref="ChartFile"/>.
/// </summary>
public static class LineChart
{
    public static Figure Create(string title, string xTitle, string yTitle, IEnumerable<Series> series,
        bool logX = false, bool logY = false)
    {
        var traces = new JsonArray(series.Select(s => (JsonNode)Figure.Scatter(s.Name, s.X, s.Y, "lines+markers")).ToArray());
        if (traces.Count == 0) throw new ArgumentException("A chart needs at least one series.", nameof(series));
        return new Figure(title, traces, new JsonObject { ["xaxis"] = Figure.Axis(xTitle, logX), ["yaxis"] = Figure.Axis(yTitle, logY) });
    }
}
