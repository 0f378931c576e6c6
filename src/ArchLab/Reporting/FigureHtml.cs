using System.Net;

namespace ArchLab.Reporting;

/// <summary>
/// HTML for a <see cref="Figure"/>: a whole page (for chart files) or a fragment (for a notebook's <c>text/html</c> output).
/// plotly.js comes from a script path (relative, so it works offline) or is inlined.
/// </summary>
public static class FigureHtml
{
    public const int Width = 900, Height = 500;

    /// <summary>A standalone page drawing <paramref name="figure"/>; <paramref name="plotlyScript"/> is the
    /// <c>src</c> of plotly.js, or null with <paramref name="inlineScript"/> holding the library itself.</summary>
    public static string Page(Figure figure, string? plotlyScript, string? inlineScript = null)
    {
        string script = plotlyScript is not null
            ? $"<script src=\"{WebUtility.HtmlEncode(plotlyScript)}\"></script>"
            : $"<script>{inlineScript}</script>";
        return $$"""
            <!DOCTYPE html>
            <html>
            <head><meta charset="utf-8"><title>{{WebUtility.HtmlEncode(figure.Title)}}</title>{{script}}</head>
            <body>
            <div id="chart" style="width:{{Width}}px;height:{{Height}}px"></div>
            <script>Plotly.newPlot('chart', {{Json(figure)}}.data, {{Json(figure)}}.layout, {responsive: true});</script>
            </body>
            </html>
            """;
    }

    /// <summary>
    /// A notebook output fragment: a div holding <paramref name="fallbackHtml"/> (a PNG of the chart or a link: what a
    /// viewer without JavaScript, such as GitHub, shows), and a script that loads plotly.js (the page's own
    /// <c>window.Plotly</c>, else <paramref name="plotlyScript"/>, a path relative to the notebook) and replaces the
    /// fallback with the interactive chart. Rendered HTML (<c>jupyter nbconvert --to html</c>) and the classic
    /// Notebook draw it offline.
    /// </summary>
    public static string Fragment(Figure figure, string divId, string plotlyScript, string fallbackHtml) => $$"""
        <div id="{{divId}}" style="max-width:{{Width}}px">{{fallbackHtml}}</div>
        <script>
        (function () {
          var figure = {{Json(figure)}};
          function draw() { var d = document.getElementById('{{divId}}'); d.innerHTML = ''; d.style.height = '{{Height}}px'; window.Plotly.newPlot(d, figure.data, figure.layout, {responsive: true}); }
          if (window.Plotly) { draw(); return; }
          var s = document.createElement('script'); s.src = '{{plotlyScript}}'; s.onload = draw;
          document.head.appendChild(s);
        })();
        </script>
        """;

    static string Json(Figure figure) => figure.ToJson().ToJsonString().Replace("</", "<\\/");
}
