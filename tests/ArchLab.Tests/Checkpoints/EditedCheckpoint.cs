using System.Text.Json.Nodes;
using ArchLab.Checkpoints;
using ArchLab.Models;
using ArchLab.Tests.TestSupport;
using static TorchSharp.torch;

namespace ArchLab.Tests.Checkpoints;

/// <summary>A scratch folder holding a golden case's checkpoint with its config and tensors edited; deleted on dispose.</summary>
public sealed class EditedCheckpoint : IDisposable
{
    readonly GoldenCase source;

    /// <summary>The scratch folder the edited checkpoint is written to.</summary>
    public string Dir { get; }

    public EditedCheckpoint(GoldenCase source, string scratchPrefix)
    {
        this.source = source;
        Dir = Directory.CreateTempSubdirectory(scratchPrefix).FullName;
    }

    public void Dispose() => Directory.Delete(Dir, recursive: true);

    /// <summary>The golden case's config.json, as an editable object.</summary>
    public JsonObject SourceConfig() => JsonNode.Parse(File.ReadAllText(Path.Combine(source.Dir, "config.json")))!.AsObject();

    /// <summary>The golden case's files in the scratch folder, with the config and tensors edited; returns the folder.</summary>
    public string Write(Action<JsonObject>? editConfig = null, Action<Dictionary<string, Tensor>>? editTensors = null)
    {
        var config = SourceConfig();
        editConfig?.Invoke(config);
        File.WriteAllText(Path.Combine(Dir, "config.json"), config.ToJsonString());
        using var file = Safetensors.Read(Path.Combine(source.Dir, "model.safetensors"));
        var tensors = new Dictionary<string, Tensor>(file.Tensors);
        editTensors?.Invoke(tensors);
        Safetensors.Write(Path.Combine(Dir, "model.safetensors"), tensors);
        return Dir;
    }

    /// <summary>A model of the config (after seeding the generator) with every parameter moved off its initial value.</summary>
    public static LanguageModel PerturbedModel(ModelConfig config, int seed)
    {
        manual_seed(seed);
        var model = new LanguageModel(config);
        using (no_grad())
            foreach (var p in model.parameters()) p.add_(randn(p.shape) * 0.1);
        return model;
    }

    /// <summary>Writes an official config and tensors to the scratch folder, loads them and asserts the logits equal the source's.</summary>
    public void AssertLoadsToSameLogits(LanguageModel source, string officialConfig, Dictionary<string, Tensor> tensors, int vocabSize)
    {
        File.WriteAllText(Path.Combine(Dir, "config.json"), officialConfig);
        Safetensors.Write(Path.Combine(Dir, "model.safetensors"), tensors);

        using var loaded = ModelLoader.Load(Dir);
        var ids = randint(0, vocabSize, [2, 9]);
        using var noGrad = no_grad();
        TensorAssert.Close(source.forward(ids), loaded.forward(ids), 0, "logits after import");
    }
}
