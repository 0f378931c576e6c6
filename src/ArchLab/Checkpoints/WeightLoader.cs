using ArchLab.Models;
using TorchSharp;
using static TorchSharp.torch;

namespace ArchLab.Checkpoints;

/// <summary>Copies named tensors into a model's parameters, checking that every parameter is present with the right shape.</summary>
public static class WeightLoader
{
    /// <param name="source">where the tensors came from, for error messages</param>
    /// <param name="displayName">maps an ArchLab parameter name to the name the file uses (official layouts), for messages</param>
    /// <param name="fileNames">names of all tensors in the file; any the model does not use is an error (default: the keys of <paramref name="weights"/>)</param>
    public static void Load(LanguageModel model, IReadOnlyDictionary<string, Tensor> weights, string source,
                            Func<string, string>? displayName = null, IEnumerable<string>? fileNames = null)
    {
        displayName ??= name => name;
        using var noGrad = no_grad();
        var used = new HashSet<string>();
        foreach (var (name, parameter) in model.named_parameters())
        {
            if (!weights.TryGetValue(name, out var tensor))
                throw new CheckpointException($"{source}: missing tensor '{displayName(name)}'");
            if (!tensor.shape.SequenceEqual(parameter.shape))
                throw new CheckpointException(
                    $"{source}: tensor '{displayName(name)}' has shape [{string.Join(", ", tensor.shape)}], the model expects [{string.Join(", ", parameter.shape)}]");
            if (!tensor.is_floating_point())
                throw new CheckpointException($"{source}: tensor '{displayName(name)}' has dtype {tensor.dtype}, expected a floating-point type");
            parameter.copy_(tensor);
            used.Add(displayName(name));
        }
        var unexpected = (fileNames ?? weights.Keys).Where(k => !used.Contains(k)).Order().ToList();
        if (unexpected.Count > 0)
            throw new CheckpointException($"{source}: unexpected tensor '{unexpected[0]}'" +
                                          (unexpected.Count > 1 ? $" (and {unexpected.Count - 1} more)" : "") + " for this config");
    }

    /// <summary>The model's parameters by name, on the CPU, for saving (a tied head is stored once, as the embedding).</summary>
    public static Dictionary<string, Tensor> StateDict(LanguageModel model) =>
        model.named_parameters().ToDictionary(p => p.name, p => p.parameter.detach().cpu());
}
