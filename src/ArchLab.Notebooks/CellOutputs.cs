using System.Text.Json.Nodes;

namespace ArchLab.Notebooks;

/// <summary>Builds nbformat 4 output objects (stream, display_data, execute_result, error).</summary>
public static class CellOutputs
{
    public static JsonObject Stream(string name, string text) => new()
    {
        ["output_type"] = "stream",
        ["name"] = name,
        ["text"] = Lines(text),
    };

    public static JsonObject DisplayData(MimeBundle bundle) => new()
    {
        ["output_type"] = "display_data",
        ["data"] = bundle.ToJson(),
        ["metadata"] = new JsonObject(),
    };

    public static JsonObject ExecuteResult(int executionCount, MimeBundle bundle) => new()
    {
        ["output_type"] = "execute_result",
        ["execution_count"] = executionCount,
        ["data"] = bundle.ToJson(),
        ["metadata"] = new JsonObject(),
    };

    public static JsonObject Error(string name, string value, IEnumerable<string> traceback) => new()
    {
        ["output_type"] = "error",
        ["ename"] = name,
        ["evalue"] = value,
        ["traceback"] = new JsonArray(traceback.Select(t => (JsonNode)JsonValue.Create(t)!).ToArray()),
    };

    /// <summary>nbformat's multiline string: a list of lines, each but the last ending with its newline.</summary>
    public static JsonArray Lines(string text)
    {
        var lines = new JsonArray();
        int start = 0;
        for (int i = 0; i < text.Length; i++)
            if (text[i] == '\n') { lines.Add(text[start..(i + 1)]); start = i + 1; }
        if (start < text.Length) lines.Add(text[start..]);
        return lines;
    }
}
