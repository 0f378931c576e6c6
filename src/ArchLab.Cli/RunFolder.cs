using System.Text.Json;
using ArchLab.Data;
using ArchLab.IO;
using ArchLab.Models;

namespace ArchLab.Cli;

/// <summary>What a run folder records about its data (corpus and tokenizer), so eval and generate use the same.</summary>
public sealed record RunData(string[] Data, string Tokenizer)
{
    const string FileName = "data.json";

    public void Save(string runDir) => AtomicFile.WriteAllText(Path.Combine(runDir, FileName), JsonSerializer.Serialize(this, ModelConfig.Json));

    public static RunData? Load(string dir)
    {
        foreach (var candidate in new[] { dir, Path.GetDirectoryName(Path.GetDirectoryName(Path.GetFullPath(dir))) })
            if (candidate is not null && File.Exists(Path.Combine(candidate, FileName)))
                return JsonSerializer.Deserialize<RunData>(File.ReadAllText(Path.Combine(candidate, FileName)), ModelConfig.Json);
        return null;
    }

    /// <summary>"brown" (the default, fetched on first use) or text files and folders.</summary>
    public static TextCorpus LoadCorpus(string[] data) =>
        data.Length == 0 || (data.Length == 1 && data[0] == "brown") ? BrownCorpus.Load(log: Console.Out) : TextCorpus.FromPaths(data);
}

public static class ModelPath
{
    /// <summary>A run folder resolves to its latest checkpoint; a checkpoint or model folder is used as is.</summary>
    public static string Resolve(string dir) => Training.TrainingCheckpoint.Latest(dir) ?? dir;
}
