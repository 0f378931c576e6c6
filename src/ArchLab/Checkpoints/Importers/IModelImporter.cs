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

    /// <summary>Whether an official tensor is one the model does not load as a parameter (a derived constant such as
    /// RetNet's retnet_rel_pos buffers, checked by <see cref="MapWeights"/>).</summary>
    bool IsDerived(string officialName, ModelConfig config) => false;

    /// <summary>The official name of an ArchLab parameter, for error messages.</summary>
    string OfficialName(string archlabName);
}
