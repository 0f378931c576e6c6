using System.Text.Json;
using ArchLab.Checkpoints.Importers;
using ArchLab.Models;

namespace ArchLab.Checkpoints;

/// <summary>
/// Loads a model folder (config.json + model.safetensors) in ArchLab's layout or any official layout an
/// <see cref="IModelImporter"/> knows, detecting which unless told.
/// </summary>
public static class ModelLoader
{
    /// <summary>The official layouts of the registered architectures (<see cref="Mixers.MixerSpec.Importer"/>), in registration order.</summary>
    public static IReadOnlyList<IModelImporter> Importers => Mixers.MixerRegistry.Specs.Select(s => s.Importer).OfType<IModelImporter>().ToArray();

    public static IEnumerable<string> Formats => new[] { "auto", "archlab" }.Concat(Importers.Select(i => i.Name));

    public static LanguageModel Load(string dir, string format = "auto")
    {
        if (File.Exists(dir)) throw new CheckpointException($"model folder '{dir}' is a file; give the folder that holds {ModelCheckpoint.ConfigFile} and {ModelCheckpoint.WeightsFile}");
        if (!Directory.Exists(dir)) throw new CheckpointException($"model folder '{dir}' does not exist");
        string configPath = Path.Combine(dir, ModelCheckpoint.ConfigFile);
        string weightsPath = Path.Combine(dir, ModelCheckpoint.WeightsFile);
        if (!File.Exists(configPath)) throw new CheckpointException($"{dir}: no {ModelCheckpoint.ConfigFile}");
        if (!File.Exists(weightsPath)) throw new CheckpointException($"{dir}: no {ModelCheckpoint.WeightsFile}");

        if (format == "archlab") return ModelCheckpoint.Load(dir);

        JsonElement config;
        try { config = JsonDocument.Parse(File.ReadAllText(configPath)).RootElement; }
        catch (JsonException e) { throw new ConfigException($"{configPath}: {IO.JsonErrors.Describe(e)}"); }
        if (config.ValueKind != JsonValueKind.Object)
            throw new ConfigException($"{configPath}: a model config must be a JSON object, got {config.ValueKind.ToString().ToLowerInvariant()}");
        if (IO.JsonErrors.InvalidStringAt(config) is { } invalid)
            throw new ConfigException($"{configPath}: the string at {invalid} is not valid Unicode (an unpaired surrogate escape?)");

        IModelImporter? importer;
        if (format == "auto")
        {
            if (config.ValueKind == JsonValueKind.Object && config.TryGetProperty("arch", out _)) return ModelCheckpoint.Load(dir);
            var names = Safetensors.ReadHeader(weightsPath).Keys.ToHashSet();
            importer = Importers.FirstOrDefault(i => i.Recognises(config, names))
                       ?? throw new CheckpointException($"{dir}: unknown checkpoint layout (formats: {string.Join(", ", Formats)})");
        }
        else
        {
            importer = Importers.FirstOrDefault(i => i.Name == format)
                       ?? throw new ArgumentException($"unknown format '{format}' (formats: {string.Join(", ", Formats)})");
        }

        ModelConfig modelConfig;
        try { modelConfig = importer.ReadConfig(config, configPath); }
        catch (ConfigException e) when (!e.Message.StartsWith(configPath, StringComparison.Ordinal))
        {
            throw new ConfigException($"{configPath}: {e.Message}");
        }
        var model = new LanguageModel(modelConfig);
        using var file = Safetensors.Read(weightsPath);
        var weights = importer.MapWeights(file.Tensors, modelConfig, config);
        WeightLoader.Load(model, weights, weightsPath, importer.OfficialName, file.Tensors.Keys.Except(importer.NotParameters(file.Tensors, modelConfig)));
        return model;
    }
}
