using ArchLab.Reporting;

namespace ArchLab.Tests.Reporting;

public class ReportingTests
{
    [Fact]
    public void ChartHtmlReferencesALocalPlotlyCopyAndCarriesTheData()
    {
        string folder = Directory.CreateTempSubdirectory("archlab-chart-").FullName;
        try
        {
            var chart = LineChart.Create("Loss against steps", "step", "loss",
                new[] { new Series("mamba", new[] { 1.0, 2.0, 3.0 }, new[] { 4.5, 3.25, 2.125 }) }, logY: true);
            ChartFile.Save(chart, Path.Combine(folder, "loss.html"), png: false);
            string html = File.ReadAllText(Path.Combine(folder, "loss.html"));
            Assert.Contains($"src=\"{ChartFile.PlotlyScriptName}\"", html);
            Assert.Contains("3.25", html);
            Assert.Contains("mamba", html);
            Assert.Contains("\"log\"", html);
            Assert.DoesNotContain("cdn.plot.ly", html);
            string script = File.ReadAllText(Path.Combine(folder, ChartFile.PlotlyScriptName));
            Assert.True(script.Length > 1_000_000, "plotly.js should be the full minified library");
        }
        finally { Directory.Delete(folder, true); }
    }

    [Fact]
    public void CsvTableQuotesCellsAndRejectsRowsOfTheWrongWidth()
    {
        var table = new CsvTable("name", "value").Comment("command: test");
        table.Add("a,b", 0.1);
        table.Add("plain", 3);
        Assert.Equal("# command: test\nname,value\n\"a,b\",0.1\nplain,3\n", table.ToString().Replace("\r\n", "\n"));
        Assert.Throws<ArgumentException>(() => table.Add("only one"));
    }
}
