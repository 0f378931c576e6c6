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

    /// <summary>A JSON value for a message, cut to <paramref name="max"/> characters.</summary>
    public static string Shown(JsonElement value, int max = 40)
    {
        string raw = value.GetRawText().ReplaceLineEndings(" ");
        return raw.Length <= max ? raw : raw[..max] + "…";
    }
}
