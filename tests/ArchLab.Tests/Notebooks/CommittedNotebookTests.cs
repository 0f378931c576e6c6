using System.Text.Json.Nodes;
using System.Text.RegularExpressions;
using ArchLab.Data;
using ArchLab.Notebooks;

namespace ArchLab.Tests.Notebooks;

/// <summary>The notebooks in notebooks/ are C# nbformat 4 files carrying the outputs of a run, small, with working chart links.
/// (.ci/run executes them all with --quick.)</summary>
public class CommittedNotebookTests
{
    static string NotebooksDir => Path.Combine(CacheDirectory.FindRepoRoot(AppContext.BaseDirectory)
                                               ?? throw new InvalidOperationException("repository root not found"), "notebooks");

    public static TheoryData<string> Notebooks()
    {
        var data = new TheoryData<string>();
        foreach (string path in Directory.GetFiles(NotebooksDir, "*.ipynb").OrderBy(p => p, StringComparer.Ordinal))
            data.Add(Path.GetFileName(path));
        return data;
    }

    [Fact]
    public void ThereAreNotebooks() => Assert.NotEmpty(Notebooks());

    [Theory]
    [MemberData(nameof(Notebooks))]
    public void IsACSharpNotebookWithOutputsAndNoErrors(string name)
    {
        string path = Path.Combine(NotebooksDir, name);
        // a chart's PNG is in its text/html (what JupyterLab, VS Code and GitHub show without plotly.js) and in image/png
        Assert.True(new FileInfo(path).Length < 600_000, $"{name} is {new FileInfo(path).Length:N0} bytes");
        var notebook = Notebook.Load(path);
        Assert.Equal(NotebookRunner.CSharpKernel, notebook.KernelName);
        Assert.Contains(notebook.Cells, c => c.CellType == "markdown");

        var json = (JsonObject)JsonNode.Parse(File.ReadAllText(path))!;
        var code = json["cells"]!.AsArray().Where(c => c!["cell_type"]!.GetValue<string>() == "code").ToList();
        Assert.NotEmpty(code);
        foreach (var cell in code)
        {
            Assert.True(cell!["execution_count"]?.GetValue<int>() > 0, $"{name}: a code cell was not run");
            foreach (var output in cell["outputs"]!.AsArray())
            {
                Assert.NotEqual("error", output!["output_type"]!.GetValue<string>());
                if (output["data"]?["text/html"] is JsonArray html)
                    foreach (Match link in Regex.Matches(string.Concat(html.Select(l => l!.GetValue<string>())), "href=\"([^\"]+)\""))
                        Assert.True(File.Exists(Path.Combine(NotebooksDir, link.Groups[1].Value)), $"{name}: missing {link.Groups[1].Value}");
            }
        }
    }
}
