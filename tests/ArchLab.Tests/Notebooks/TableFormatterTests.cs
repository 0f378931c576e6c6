using ArchLab.Notebooks;

namespace ArchLab.Tests.Notebooks;

public class TableFormatterTests
{
    static string Markdown(MimeBundle bundle) => bundle.Entries.Single(e => e.Mime == "text/markdown").Value.GetValue<string>();

    [Fact]
    public void RecordsGiveOneColumnPerProperty()
    {
        string markdown = Markdown(TableFormatter.Format(new[] { new { Arch = "a", Loss = 2.5 } }));
        Assert.Contains("| Arch | Loss |", markdown);
        Assert.Contains("| a | 2.5 |", markdown);
    }

    /// <summary>A table whose columns are known only at run time (one per registered architecture, notebook 04).</summary>
    [Fact]
    public void DictionaryRowsGiveOneColumnPerKeyInOrderOfAppearance()
    {
        var rows = new List<Dictionary<string, object>>
        {
            new() { ["Positions"] = "0–15", ["x"] = 1.5 },
            new() { ["Positions"] = "16–31", ["y"] = 2.0, ["x"] = 3.0 },
        };
        string markdown = Markdown(TableFormatter.Format(rows));
        Assert.Contains("| Positions | x | y |", markdown);
        Assert.Contains("| 0–15 | 1.5 |  |", markdown);
        Assert.Contains("| 16–31 | 3 | 2 |", markdown);
    }
}
