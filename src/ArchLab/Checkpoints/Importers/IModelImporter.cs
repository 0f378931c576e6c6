using System.Text.Json;
using ArchLab.Models;
using static TorchSharp.torch;

namespace ArchLab.Checkpoints.Importers;

/// <summary>One official checkpoint layout: its config fields and tensor names, mapped onto ArchLab's.</summary>
public interface IModelImporter
{
    /// <summary>The name users pass to <c>--format</c>.</summary>
    string Name { get; }

    /// <summary>Whether a folder's config and tensor names look like this layout.</summary>
    bool Recognises(JsonElement config, IReadOnlyCollection<string> tensorNames);

    ModelConfig ReadConfig(JsonElement config, string source);

    /// <summary>Official tensors → ArchLab parameter names, applying any load-time transforms. Missing ones are left out
    /// (the loader reports them by their official name).</summary>
    Dictionary<string, Tensor> MapWeights(IReadOnlyDictionary<string, Tensor> official, ModelConfig config);

    /// <summary>The official name of an ArchLab parameter, for error messages.</summary>
    string OfficialName(string archlabName);

    /// <summary>Official tensors the model does not load because they repeat one it does (a tied head saved under both
    /// names); the importer checks they are equal. The loader does not count them as unexpected.</summary>
    IEnumerable<string> Duplicates(IReadOnlyDictionary<string, Tensor> official, ModelConfig config) => [];
}
