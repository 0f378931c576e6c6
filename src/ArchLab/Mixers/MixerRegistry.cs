using ArchLab.Models;

namespace ArchLab.Mixers;

/// <summary>Maps the mixer names used in configs and on the command line to constructors.</summary>
public static class MixerRegistry
{
    static readonly Dictionary<string, Func<ModelConfig, double, IMixer>> factories = new()
    {
        ["transformer"] = (config, outputStd) => new Attention(config, outputStd),
    };

    /// <summary>Other spellings users type.</summary>
    static readonly Dictionary<string, string> aliases = new() { ["attention"] = "transformer", ["llama"] = "transformer" };

    public static IEnumerable<string> Names => factories.Keys;

    public static string Canonical(string name) => aliases.GetValueOrDefault(name, name);

    public static bool IsKnown(string name) => factories.ContainsKey(Canonical(name));

    public static IMixer Create(string name, ModelConfig config, double outputInitStd) =>
        factories.TryGetValue(Canonical(name), out var make)
            ? make(config, outputInitStd)
            : throw new ConfigException($"unknown mixer '{name}' (known: {string.Join(", ", Names)})");
}
