using System.Net;
using System.Text.Json.Nodes;
using ArchLab.IO;
using ArchLab.Reporting;

namespace ArchLab.Notebooks;

/// <summary>
/// How a displayed chart (<see cref="Figure"/>) becomes a cell output that real clients show, without megabytes of
/// inlined JavaScript:
/// <list type="bullet">
/// <item><c>text/html</c>: a div and a script that draws the interactive chart with plotly.js, loaded by a path relative
/// to the notebook (the repository's shared <c>experiments/plotly-2.28.0.min.js</c>, else a copy written beside the
/// notebook), so it renders offline; until it draws (or where scripts do not run, as on GitHub) the div shows the PNG;</item>
/// <item><c>image/png</c> when headless Chromium is installed, <c>application/vnd.plotly.v1+json</c> (JupyterLab, VS Code)
/// and a text line.</item>
/// </list>
/// When <c>filesDir</c> is given (the runner), the chart's HTML page is also saved there as <c>cellNN-chartK.html</c>
/// and linked; otherwise (the kernel, which does not know the notebook's name) the page goes to a scratch folder, only
/// to render the PNG.
/// </summary>
public sealed class ChartOutput(string notebookDir, string? filesDir, string scratchDir)
{
    int count;

    public MimeBundle Save(Figure figure, int cellIndex)
    {
        count++;
        string pageDir = filesDir ?? Path.Combine(scratchDir, "charts");
        Directory.CreateDirectory(pageDir);
        string htmlPath = Path.Combine(pageDir, $"cell{cellIndex:D2}-chart{count}.html");
        string sharedScript = FindOrWriteSharedScript(filesDir ?? notebookDir);
        AtomicFile.WriteAllText(htmlPath, FigureHtml.Page(figure, Relative(pageDir, sharedScript)));
        string pngPath = Path.ChangeExtension(htmlPath, ".png");
        string? png = ChartFile.TryRenderPng(htmlPath, pngPath, FigureHtml.Width + 40, FigureHtml.Height + 40)
            ? Convert.ToBase64String(File.ReadAllBytes(pngPath)) : null;

        string title = WebUtility.HtmlEncode(figure.Title);
        string fallback = png is not null ? $"<img alt=\"{title}\" src=\"data:image/png;base64,{png}\"/>" : $"<p>Chart: {title}</p>";
        if (filesDir is not null)
        {
            string link = Relative(notebookDir, htmlPath);
            fallback += $"<p>Chart: <a href=\"{link}\" target=\"_blank\">{link}</a> (interactive, opens offline)</p>";
        }
        string divId = $"archlab-chart-{Guid.NewGuid():N}"[..26];
        var bundle = new MimeBundle($"chart: {figure.Title}")
            .Add("text/html", FigureHtml.Fragment(figure, divId, Relative(notebookDir, sharedScript), fallback))
            .Add("application/vnd.plotly.v1+json", figure.ToJson());
        if (png is not null) bundle.Add("image/png", png);
        return bundle;
    }

    static string Relative(string from, string to) => Path.GetRelativePath(from, to).Replace('\\', '/');

    /// <summary>The repository's shared plotly.js (<c>experiments/plotly-2.28.0.min.js</c> in a folder at or above
    /// <paramref name="start"/>), else a copy written into <paramref name="start"/>.</summary>
    static string FindOrWriteSharedScript(string start)
    {
        for (var dir = new DirectoryInfo(Path.GetFullPath(start)); dir is not null; dir = dir.Parent)
        {
            string candidate = Path.Combine(dir.FullName, "experiments", ChartFile.PlotlyScriptName);
            if (File.Exists(candidate)) return candidate;
        }
        Directory.CreateDirectory(start);
        ChartFile.WritePlotlyScript(start);
        return Path.Combine(Path.GetFullPath(start), ChartFile.PlotlyScriptName);
    }
}
