using System.Text.Json.Nodes;
using ArchLab.IO;
using ArchLab.Reporting;
using Plotly.NET;

namespace ArchLab.Notebooks;

/// <summary>
/// How a displayed chart is kept in a notebook without megabytes of inlined JavaScript:
/// <list type="bullet">
/// <item>the chart's HTML is saved in <c>&lt;notebook&gt;_files/</c> next to the written notebook; it loads plotly.js by a
/// relative path (the repository's shared <c>experiments/plotly-2.28.0.min.js</c>, else a copy written beside it), so it opens
/// offline in a browser;</item>
/// <item>the output holds <c>application/vnd.plotly.v1+json</c> (the figure's data and layout, a few KB, drawn by JupyterLab
/// and VS Code), a <c>text/html</c> link to the saved file, <c>image/png</c> when headless Chromium is installed, and text.</item>
/// </list>
/// </summary>
public sealed class ChartOutput(string filesDir, string notebookDir)
{
    int count;

    public MimeBundle Save(GenericChart chart, int cellIndex)
    {
        count++;
        string name = $"cell{cellIndex:D2}-chart{count}.html";
        string htmlPath = Path.Combine(filesDir, name);
        Directory.CreateDirectory(filesDir);
        string? sharedScript = FindSharedPlotlyScript(filesDir);
        string? pngPath = null;
        if (sharedScript is not null)
        {
            var options = DisplayOptions.init(null, null, null, null, null, null,
                PlotlyJSReference.NewCDN(Path.GetRelativePath(filesDir, sharedScript).Replace('\\', '/')));
            AtomicFile.WriteAllText(htmlPath, GenericChart.toEmbeddedHTML(Chart.withDisplayOptions(options).Invoke(chart)));
            string png = Path.ChangeExtension(htmlPath, ".png");
            if (ChartFile.TryRenderPng(htmlPath, png)) pngPath = png;
        }
        else
        {
            pngPath = ChartFile.Save(chart, htmlPath);
        }

        string relative = Path.GetRelativePath(notebookDir, htmlPath).Replace('\\', '/');
        var bundle = new MimeBundle($"chart: {relative}")
            .Add("text/html", $"<p>Chart: <a href=\"{relative}\" target=\"_blank\">{relative}</a> (interactive, opens offline)</p>");
        var figure = JsonNode.Parse(GenericChart.toFigureJson(chart));
        if (figure is JsonObject f)
        {
            // Plotly.NET's default template is ~10 KB of styling per chart; the frontend's own default looks the same.
            var layout = f["layout"]?.DeepClone() as JsonObject ?? new JsonObject();
            layout.Remove("template");
            bundle.Add("application/vnd.plotly.v1+json", new JsonObject { ["data"] = f["data"]?.DeepClone(), ["layout"] = layout });
        }
        if (pngPath is not null)
            bundle.Add("image/png", Convert.ToBase64String(File.ReadAllBytes(pngPath)));
        return bundle;
    }

    /// <summary>The repository's shared plotly.js (<c>experiments/plotly-2.28.0.min.js</c> in a folder at or above), or null.</summary>
    static string? FindSharedPlotlyScript(string start)
    {
        for (var dir = new DirectoryInfo(Path.GetFullPath(start)); dir is not null; dir = dir.Parent)
        {
            string candidate = Path.Combine(dir.FullName, "experiments", ChartFile.PlotlyScriptName);
            if (File.Exists(candidate)) return candidate;
        }
        return null;
    }
}
