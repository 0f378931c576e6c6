using System.Diagnostics;
using System.Reflection;
using ArchLab.IO;

namespace ArchLab.Reporting;

/// <summary>
/// Writes charts (<see cref="Figure"/>) as HTML that renders offline, and as PNG where a headless Chromium is installed.
/// By default a chart references <c>plotly-2.28.0.min.js</c> by a relative path: the nearest copy in its folder or any
/// folder above it (<c>experiments/</c> holds one shared copy), else a copy (3.6 MB, from Plotly.NET's embedded resource)
/// written into its own folder. So many charts cost one copy of plotly.js, and every chart still renders offline.
/// <c>inlinePlotly: true</c> embeds plotly.js in the HTML instead (one file you can mail, 3.6 MB each).
/// </summary>
public static class ChartFile
{
    const string PlotlyResource = "Plotly.NET.plotly-2.28.0.min.js";
    public const string PlotlyScriptName = "plotly-2.28.0.min.js";

    /// <summary>Saves <paramref name="chart"/> to <paramref name="htmlPath"/>; returns the PNG path if one was rendered.</summary>
    public static string? Save(Figure chart, string htmlPath, bool inlinePlotly = false, bool png = true)
    {
        string folder = Path.GetDirectoryName(Path.GetFullPath(htmlPath))!;
        Directory.CreateDirectory(folder);
        string html = inlinePlotly
            ? FigureHtml.Page(chart, null, ReadPlotlyScript())
            : FigureHtml.Page(chart, FindOrWritePlotlyScript(folder));
        AtomicFile.WriteAllText(htmlPath, html);
        if (!png) return null;
        string pngPath = Path.ChangeExtension(htmlPath, ".png");
        return TryRenderPng(htmlPath, pngPath, FigureHtml.Width + 40, FigureHtml.Height + 40) ? pngPath : null;
    }

    /// <summary>The relative path from <paramref name="folder"/> to the nearest plotly.js at or above it, written if none.</summary>
    public static string FindOrWritePlotlyScript(string folder)
    {
        for (DirectoryInfo? dir = new(folder); dir is not null; dir = dir.Parent)
            if (File.Exists(Path.Combine(dir.FullName, PlotlyScriptName)))
                return Path.GetRelativePath(folder, Path.Combine(dir.FullName, PlotlyScriptName)).Replace('\\', '/');
        WritePlotlyScript(folder);
        return PlotlyScriptName;
    }

    /// <summary>Writes plotly.js into <paramref name="folder"/> unless it is already there.</summary>
    public static void WritePlotlyScript(string folder)
    {
        string path = Path.Combine(folder, PlotlyScriptName);
        if (!File.Exists(path)) AtomicFile.WriteAllText(path, ReadPlotlyScript());
    }

    /// <summary>plotly.js as Plotly.NET embeds it. Only the assembly's resources are read: no F# code runs, so this works
    /// where FSharp.Core 10.1 cannot load (the .NET Interactive kernel).</summary>
    static string ReadPlotlyScript()
    {
        using Stream? source = Assembly.Load("Plotly.NET").GetManifestResourceStream(PlotlyResource)
            ?? throw new InvalidOperationException($"Plotly.NET no longer embeds {PlotlyResource}.");
        using var reader = new StreamReader(source);
        return reader.ReadToEnd();
    }

    /// <summary>The headless browser used for PNG output, or null when none is installed.</summary>
    public static string? FindChromium()
    {
        string? env = Environment.GetEnvironmentVariable("ARCHLAB_CHROMIUM");
        if (!string.IsNullOrEmpty(env)) return File.Exists(env) ? env : null;
        foreach (string name in new[] { "chromium", "chromium-browser", "google-chrome" })
            foreach (string dir in (Environment.GetEnvironmentVariable("PATH") ?? "").Split(':'))
            {
                string candidate = Path.Combine(dir, name);
                if (File.Exists(candidate)) return candidate;
            }
        return null;
    }

    /// <summary>Renders an HTML chart to PNG with headless Chromium; false when none is installed or it fails.</summary>
    public static bool TryRenderPng(string htmlPath, string pngPath, int width = 1000, int height = 600)
    {
        string? chromium = FindChromium();
        if (chromium is null) return false;
        string profile = Directory.CreateTempSubdirectory("archlab-chromium-").FullName;
        try
        {
            var start = new ProcessStartInfo(chromium)
            {
                RedirectStandardError = true,
                RedirectStandardOutput = true,
            };
            foreach (string arg in new[] { "--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                         "--disable-component-update", "--disable-sync", "--no-first-run", $"--user-data-dir={profile}",
                         $"--window-size={width},{height}", "--virtual-time-budget=5000", $"--screenshot={Path.GetFullPath(pngPath)}",
                         new Uri(Path.GetFullPath(htmlPath)).AbsoluteUri })
                start.ArgumentList.Add(arg);
            using Process process = Process.Start(start)!;
            process.StandardOutput.ReadToEndAsync();
            process.StandardError.ReadToEndAsync();
            if (!process.WaitForExit(60_000)) { process.Kill(true); return false; }
            return process.ExitCode == 0 && File.Exists(pngPath);
        }
        catch (Exception) { return false; }
        finally { try { Directory.Delete(profile, true); } catch (IOException) { } }
    }
}
