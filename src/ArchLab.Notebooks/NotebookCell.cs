using System.Text.Json.Nodes;

namespace ArchLab.Notebooks;

/// <summary>One cell of a notebook: its kind, its source text, and (for code cells) its outputs.</summary>
public sealed class NotebookCell(int index, JsonObject json)
{
    /// <summary>Position in the notebook's <c>cells</c> array (0-based, markdown cells included).</summary>
    public int Index { get; } = index;

    public string CellType => json["cell_type"]?.GetValue<string>() ?? "";
    public bool IsCode => CellType == "code";

    /// <summary>The source, joined (nbformat allows a string or a list of lines).</summary>
    public string Source => json["source"] switch
    {
        JsonArray lines => string.Concat(lines.Select(l => l?.GetValue<string>() ?? "")),
        JsonValue text => text.GetValue<string>(),
        _ => "",
    };

    /// <summary>The first non-blank line of the source (names the cell in error messages).</summary>
    public string FirstLine => Source.Split('\n').Select(l => l.Trim()).FirstOrDefault(l => l.Length > 0) ?? "";

    /// <summary>The language Polyglot notebooks record per cell (metadata.dotnet_interactive.language or
    /// metadata.polyglot_notebook.kernelName), or null.</summary>
    public string? MetadataLanguage =>
        json["metadata"]?["polyglot_notebook"]?["kernelName"]?.GetValue<string>()
        ?? json["metadata"]?["dotnet_interactive"]?["language"]?.GetValue<string>();

    public void ClearOutputs()
    {
        if (!IsCode) return;
        json["outputs"] = new JsonArray();
        json["execution_count"] = null;
    }

    public void SetOutputs(IEnumerable<JsonObject> outputs, int? executionCount)
    {
        json["outputs"] = new JsonArray(outputs.Select(o => (JsonNode)o).ToArray());
        json["execution_count"] = executionCount;
    }
}
