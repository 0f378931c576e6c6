using System.Text.Json;
using System.Text.Json.Nodes;
using ArchLab.IO;

namespace ArchLab.Notebooks;

/// <summary>
/// An nbformat 4 notebook held as JSON, so every field the runner does not touch (metadata, kernelspec, cell ids,
/// attachments) is written back unchanged. The runner only replaces code cells' <c>outputs</c> and <c>execution_count</c>.
/// </summary>
public sealed class Notebook
{
    readonly JsonObject root;

    public string Path { get; }
    public IReadOnlyList<NotebookCell> Cells { get; }

    Notebook(string path, JsonObject root)
    {
        Path = path;
        this.root = root;
        var cells = root["cells"] as JsonArray ?? throw new NotebookFormatException($"{path}: no 'cells' array");
        Cells = cells.Select((c, i) => new NotebookCell(i, c as JsonObject
            ?? throw new NotebookFormatException($"{path}: cell {i} is not a JSON object"))).ToList();
    }

    public static Notebook Load(string path)
    {
        if (!File.Exists(path)) throw new ArgumentException($"notebook not found: {path}");
        JsonNode? node;
        try { node = JsonNode.Parse(File.ReadAllText(path)); }
        catch (JsonException e) { throw new NotebookFormatException($"{path}: not valid JSON ({e.Message})"); }
        if (node is not JsonObject obj) throw new NotebookFormatException($"{path}: the top level is not a JSON object");
        int major = obj["nbformat"]?.GetValue<int>() ?? 0;
        if (major != 4) throw new NotebookFormatException($"{path}: nbformat {major} is not supported (only 4)");
        return new Notebook(path, obj);
    }

    /// <summary>The kernelspec name in the metadata (".net-csharp" for C# notebooks), or null.</summary>
    public string? KernelName => root["metadata"]?["kernelspec"]?["name"]?.GetValue<string>();

    /// <summary>Writes the notebook (with its current outputs) as indented nbformat 4 JSON, atomically.</summary>
    public void Save(string path)
    {
        string? folder = System.IO.Path.GetDirectoryName(System.IO.Path.GetFullPath(path));
        if (folder is not null) Directory.CreateDirectory(folder);
        AtomicFile.WriteAllText(path, ToJson());
    }

    public string ToJson() =>
        root.ToJsonString(new JsonSerializerOptions { WriteIndented = true, IndentSize = 1,
                                                      Encoder = System.Text.Encodings.Web.JavaScriptEncoder.UnsafeRelaxedJsonEscaping }) + "\n";
}

/// <summary>A notebook's JSON is not a notebook the runner can use.</summary>
public sealed class NotebookFormatException(string message) : Exception(message);
