using System.Text.Json;

namespace ArchLab.IO;

/// <summary>One-line descriptions of JSON errors that never echo the file's content (a syntax error's message quotes the
/// offending text, which may be a whole line of a binary or unrelated file).</summary>
public static class JsonErrors
{
    public static string Describe(JsonException e)
    {
        bool syntax = e.GetType() != typeof(JsonException) || e.InnerException is JsonException;
        string where = e.LineNumber is long line ? $"line {line + 1}, byte {e.BytePositionInLine + 1}" : "unknown position";
        if (syntax) return $"not valid JSON ({where})";
        return e.Message.Split('\n')[0];
    }

    /// <summary>Where the first name or string of <paramref name="element"/> that is no valid UTF-16 text sits (JSON may escape
    /// a lone surrogate, "\ud800", which <see cref="JsonElement"/> then refuses to turn into a string with an
    /// InvalidOperationException), or null if there is none.</summary>
    public static string? InvalidStringAt(JsonElement element, string path = "$")
    {
        switch (element.ValueKind)
        {
            case JsonValueKind.String:
                try { element.GetString(); return null; }
                catch (InvalidOperationException) { return path; }
            case JsonValueKind.Array:
                int i = 0;
                foreach (var item in element.EnumerateArray())
                    if (InvalidStringAt(item, $"{path}[{i++}]") is { } inItem) return inItem;
                return null;
            case JsonValueKind.Object:
                foreach (var property in element.EnumerateObject())
                {
                    string name;
                    try { name = property.Name; }
                    catch (InvalidOperationException) { return $"{path} (a field name)"; }
                    if (InvalidStringAt(property.Value, $"{path}.{name}") is { } inValue) return inValue;
                }
                return null;
            default:
                return null;
        }
    }

    /// <summary>A JSON value for a message, cut to <paramref name="max"/> characters.</summary>
    public static string Shown(JsonElement value, int max = 40)
    {
        string raw = value.GetRawText().ReplaceLineEndings(" ");
        return raw.Length <= max ? raw : raw[..max] + "…";
    }
}
