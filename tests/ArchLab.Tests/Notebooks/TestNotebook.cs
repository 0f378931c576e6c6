using System.Text.Json.Nodes;

namespace ArchLab.Tests.Notebooks;

/// <summary>Writes a small nbformat 4 C# notebook (markdown cells start with "md:") into a temp folder.</summary>
public sealed class TestNotebook : IDisposable
{
    public string Dir { get; } = Directory.CreateTempSubdirectory("archlab-nb-test-").FullName;
    public string Path { get; }

    public TestNotebook(params string[] cells)
    {
        Path = System.IO.Path.Combine(Dir, "test.ipynb");
        var array = new JsonArray();
        foreach (string cell in cells)
        {
            array.Add(cell.StartsWith("md:")
                ? new JsonObject { ["cell_type"] = "markdown", ["metadata"] = new JsonObject(), ["source"] = cell[3..] }
                : new JsonObject
                {
                    ["cell_type"] = "code", ["execution_count"] = null, ["metadata"] = new JsonObject(),
                    ["outputs"] = new JsonArray(), ["source"] = cell,
                });
        }
        var notebook = new JsonObject
        {
            ["cells"] = array,
            ["metadata"] = new JsonObject
            {
                ["kernelspec"] = new JsonObject { ["display_name"] = ".NET (C#)", ["language"] = "C#", ["name"] = ".net-csharp" },
                ["language_info"] = new JsonObject { ["name"] = "C#" },
            },
            ["nbformat"] = 4,
            ["nbformat_minor"] = 5,
        };
        File.WriteAllText(Path, notebook.ToJsonString());
    }

    public static JsonObject Read(string path) => (JsonObject)JsonNode.Parse(File.ReadAllText(path))!;

    /// <summary>The outputs of cell <paramref name="index"/> (in the notebook's cells array).</summary>
    public static JsonArray Outputs(JsonObject notebook, int index) => (JsonArray)notebook["cells"]![index]!["outputs"]!;

    /// <summary>All text of one MIME type (or of stream outputs when <paramref name="mime"/> is "stream") in a cell's outputs.</summary>
    public static string Text(JsonObject notebook, int index, string mime) => string.Concat(Outputs(notebook, index).Select(o =>
        mime == "stream" ? Join(o!["text"]) : Join(o!["data"]?[mime])));

    static string Join(JsonNode? node) => node switch
    {
        JsonArray lines => string.Concat(lines.Select(l => l!.GetValue<string>())),
        JsonValue v => v.GetValue<string>(),
        _ => "",
    };

    public void Dispose()
    {
        try { Directory.Delete(Dir, recursive: true); } catch (IOException) { }
    }
}
