using ArchLab.IO;
using ArchLab.Models;
using static TorchSharp.torch;

namespace ArchLab.Checkpoints;

/// <summary>ArchLab's own model format: a folder with <c>config.json</c> (a <see cref="ModelConfig"/>) and <c>model.safetensors</c>.</summary>
public static class ModelCheckpoint
{
    public const string ConfigFile = "config.json";
    public const string WeightsFile = "model.safetensors";

    public static void Save(string dir, LanguageModel model)
    {
        Directory.CreateDirectory(dir);
        var weights = WeightLoader.StateDict(model);
        try
        {
            Safetensors.Write(Path.Combine(dir, WeightsFile), weights, new Dictionary<string, string> { ["format"] = "archlab" });
        }
        finally
        {
            foreach (var t in weights.Values) t.Dispose();
        }
        AtomicFile.WriteAllText(Path.Combine(dir, ConfigFile), model.Config.ToJson());
    }

    public static LanguageModel Load(string dir)
    {
        string configPath = Path.Combine(dir, ConfigFile);
        string weightsPath = Path.Combine(dir, WeightsFile);
        if (!File.Exists(configPath)) throw new CheckpointException($"{dir}: no {ConfigFile}");
        if (!File.Exists(weightsPath)) throw new CheckpointException($"{dir}: no {WeightsFile}");
        var config = ModelConfig.Load(configPath);
        var model = new LanguageModel(config);
        using var file = Safetensors.Read(weightsPath);
        WeightLoader.Load(model, file.Tensors, weightsPath);
        return model;
    }
}
