using ArchLab.IO;
using System.Text.Json;
using System.Text.Json.Nodes;
using ArchLab.Checkpoints;

namespace ArchLab.Training;

/// <summary>One JSON object per line (<c>metrics.jsonl</c>): training loss, learning rate, throughput, evaluations.</summary>
public sealed class MetricsLog(string path)
{
    public string Path { get; } = path;

    public void Append(object record)
    {
        string line = JsonSerializer.Serialize(record, ModelConfigJson) + "\n";
        File.AppendAllText(Path, line);
    }

    /// <summary>After a resume, drops records past <paramref name="step"/> (written after the checkpoint by the interrupted run).</summary>
    public void TruncateAfter(long step)
    {
        if (!File.Exists(Path)) return;
        var kept = File.ReadAllLines(Path)
            .Where(l => !string.IsNullOrWhiteSpace(l))
            .Where(l =>
            {
                try { return (JsonNode.Parse(l)?["step"]?.GetValue<long>() ?? 0) <= step; }
                catch (JsonException) { return false; } // a line cut by the kill
            });
        AtomicFile.WriteAllText(Path, string.Concat(kept.Select(l => l + "\n")));
    }

    /// <summary>All records, for tests and plots.</summary>
    public IReadOnlyList<JsonNode> Read() =>
        File.Exists(Path)
            ? File.ReadAllLines(Path).Where(l => !string.IsNullOrWhiteSpace(l)).Select(l => JsonNode.Parse(l)!).ToList()
            : [];

    static readonly JsonSerializerOptions ModelConfigJson = new() { PropertyNamingPolicy = JsonNamingPolicy.SnakeCaseLower };
}
