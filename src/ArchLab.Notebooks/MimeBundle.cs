using System.Text.Json.Nodes;

namespace ArchLab.Notebooks;

/// <summary>One displayed value in several representations, keyed by MIME type (text/plain is always present).</summary>
public sealed class MimeBundle
{
    readonly List<(string Mime, JsonNode Value)> entries = new();

    public MimeBundle(string plainText) => Add("text/plain", plainText);

    public string PlainText => entries[0].Value.GetValue<string>();
    public IEnumerable<string> MimeTypes => entries.Select(e => e.Mime);
    public IReadOnlyList<(string Mime, JsonNode Value)> Entries => entries;

    public MimeBundle Add(string mime, string text) => Add(mime, JsonValue.Create(text)!);

    public MimeBundle Add(string mime, JsonNode value)
    {
        entries.RemoveAll(e => e.Mime == mime);
        entries.Add((mime, value));
        return this;
    }

    public JsonObject ToJson()
    {
        var data = new JsonObject();
        foreach (var (mime, value) in entries)
            data[mime] = value is JsonValue v && v.TryGetValue<string>(out var text) && mime.StartsWith("text/") ? CellOutputs.Lines(text) : value.DeepClone();
        return data;
    }
}
