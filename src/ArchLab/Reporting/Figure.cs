using System.Globalization;
using System.Text.Json.Nodes;

namespace ArchLab.Reporting;

/// <summary>
/// A chart as Plotly's own JSON (traces and layout), built with System.Text.Json only. It carries no F# code, so it
/// works in any host, including the .NET Interactive kernel, whose FSharp.Core 10.0 cannot run Plotly.NET 6 (built
/// against FSharp.Core 10.1). <see cref="ChartFile"/> writes it as HTML; notebooks display it.
/// </summary>
public sealed class Figure
{
    public Figure(string title, JsonArray traces, JsonObject layout)
    {
        Title = title;
        Traces = traces;
        Layout = layout;
        Layout["title"] = new JsonObject { ["text"] = title };
    }

    public string Title { get; }
    /// <summary>Plotly's <c>data</c>: one object per trace.</summary>
    public JsonArray Traces { get; }
    public JsonObject Layout { get; }

    /// <summary><c>{"data": [...], "layout": {...}}</c>, the figure as Plotly and the Jupyter plotly MIME type take it.</summary>
    public JsonObject ToJson() => new() { ["data"] = Traces.DeepClone(), ["layout"] = Layout.DeepClone() };

    /// <summary>A figure from Plotly JSON (for example Plotly.NET's <c>GenericChart.toFigureJson</c>).</summary>
    public static Figure FromJson(string json)
    {
        var root = JsonNode.Parse(json) as JsonObject ?? throw new ArgumentException("a Plotly figure is a JSON object");
        var layout = root["layout"]?.DeepClone() as JsonObject ?? new JsonObject();
        layout.Remove("template"); // Plotly.NET's default template is ~10 KB of styling; plotly.js's own default looks the same
        string title = layout["title"]?["text"]?.GetValue<string>() ?? "";
        return new Figure(title, root["data"]?.DeepClone() as JsonArray ?? new JsonArray(), layout);
    }

    /// <summary>A scatter trace: lines, markers or both, with optional colour, dash and fill.</summary>
    public static JsonObject Scatter(string name, IEnumerable<double> x, IEnumerable<double> y, string mode,
        string? color = null, string? dash = null, string? fill = null, string? fillColor = null, bool showLegend = true)
    {
        var trace = new JsonObject
        {
            ["type"] = "scatter", ["mode"] = mode, ["name"] = name,
            ["x"] = Numbers(x), ["y"] = Numbers(y),
        };
        if (color is not null)
        {
            if (mode.Contains("lines")) trace["line"] = new JsonObject { ["color"] = color };
            if (mode.Contains("markers")) trace["marker"] = new JsonObject { ["color"] = color };
        }
        if (dash is not null) (trace["line"] ??= new JsonObject())["dash"] = dash;
        if (fill is not null) trace["fill"] = fill;
        if (fillColor is not null) trace["fillcolor"] = fillColor;
        if (!showLegend) trace["showlegend"] = false;
        return trace;
    }

    /// <summary>An axis with a title, logarithmic or linear.</summary>
    public static JsonObject Axis(string title, bool log) =>
        new() { ["title"] = new JsonObject { ["text"] = title }, ["type"] = log ? "log" : "linear" };

    /// <summary>Numbers as JSON; NaN and infinities (not JSON) become null, which Plotly draws as gaps.</summary>
    static JsonArray Numbers(IEnumerable<double> values) =>
        new(values.Select(v => (JsonNode?)(double.IsFinite(v) ? JsonValue.Create(v) : null)).ToArray());

    public static string Rgba(string rgb, double alpha) => $"rgba({rgb},{alpha.ToString(CultureInfo.InvariantCulture)})";
}
