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

    /// <summary><see cref="MapWeights(IReadOnlyDictionary{string, Tensor}, ModelConfig)"/> for layouts whose load-time
    /// transforms depend on official config fields that have no ArchLab counterpart (RetNet's embedding scale).</summary>
    Dictionary<string, Tensor> MapWeights(IReadOnlyDictionary<string, Tensor> official, ModelConfig config, JsonElement officialConfig) =>
        MapWeights(official, config);

    /// <summary>The official name of an ArchLab parameter, for error messages.</summary>
    string OfficialName(string archlabName);

    /// <summary>Official tensors the model does not load as parameters, so the loader does not report them as unexpected:
    /// derived constants (RetNet's retnet_rel_pos buffers, checked in <see cref="MapWeights"/>) and tied duplicates (a tied
    /// head saved under both names, checked equal to the embedding).</summary>
    IEnumerable<string> NotParameters(IReadOnlyDictionary<string, Tensor> official, ModelConfig config) => [];
}
