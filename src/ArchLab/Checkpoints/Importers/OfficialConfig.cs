using System.Text.Json;
using ArchLab.Models;

namespace ArchLab.Checkpoints.Importers;

/// <summary>Reads an official config.json with the field names its project uses; unknown fields and wrong types are errors naming the field.</summary>
public sealed class OfficialConfig
{
    readonly JsonElement json;
    readonly string source;

    public OfficialConfig(JsonElement json, string source, IReadOnlySet<string> knownFields)
    {
        if (json.ValueKind != JsonValueKind.Object) throw new ConfigException($"{source}: config must be a JSON object");
        foreach (var property in json.EnumerateObject())
            if (!knownFields.Contains(property.Name))
                throw new ConfigException($"{source}: unknown config field '{property.Name}'");
        this.json = json;
        this.source = source;
    }

    public int Int(string name) => OptionalInt(name) ?? throw new ConfigException($"{source}: missing config field '{name}'");

    public int? OptionalInt(string name)
    {
        if (!json.TryGetProperty(name, out var v) || v.ValueKind == JsonValueKind.Null) return null;
        if (v.ValueKind != JsonValueKind.Number || !v.TryGetInt32(out int i))
            throw new ConfigException($"{source}: config field '{name}' must be an integer, got {IO.JsonErrors.Shown(v)}");
        return i;
    }

    public double? OptionalDouble(string name)
    {
        if (!json.TryGetProperty(name, out var v) || v.ValueKind == JsonValueKind.Null) return null;
        if (v.ValueKind != JsonValueKind.Number)
            throw new ConfigException($"{source}: config field '{name}' must be a number, got {IO.JsonErrors.Shown(v)}");
        return v.GetDouble();
    }

    public bool? Bool(string name)
    {
        if (!json.TryGetProperty(name, out var v) || v.ValueKind == JsonValueKind.Null) return null;
        return v.ValueKind switch
        {
            JsonValueKind.True => true,
            JsonValueKind.False => false,
            _ => throw new ConfigException($"{source}: config field '{name}' must be true or false, got {IO.JsonErrors.Shown(v)}"),
        };
    }

    public string? String(string name) =>
        json.TryGetProperty(name, out var v) && v.ValueKind == JsonValueKind.String ? v.GetString() : null;
}
