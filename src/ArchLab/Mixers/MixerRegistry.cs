using ArchLab.Checkpoints.Importers;
using ArchLab.Models;

namespace ArchLab.Mixers;

/// <summary>
/// Everything that is specific to one architecture, in one place (each mixer's file declares its own spec): how to build
/// its mixer, the norm, MLP and embedding norm its official blocks use, the parameters weight decay leaves alone, the
/// training forms it has, its official checkpoint layout, and its analytic parameter and state counts (used to refuse a
/// config too large for the machine before anything is allocated). Callers ask <see cref="MixerRegistry"/> for specs;
/// no other file names an architecture.
/// </summary>
/// <param name="Name">The name configs and the command line use.</param>
/// <param name="Create">The mixer of layer <c>int</c> for a config (official inits may depend on the depth); the double is
/// GPT-2's init std of residual output projections, 0.02/√(2L).</param>
public sealed record MixerSpec(string Name, Func<ModelConfig, int, double, Mixer> Create)
{
    /// <summary>Other spellings users type (LLaMA's name for the transformer).</summary>
    public IReadOnlyList<string> Aliases { get; init; } = [];
    /// <summary>The norm of the official blocks (one of <see cref="Norms.Names"/>).</summary>
    public string DefaultNorm { get; init; } = "rmsnorm";
    /// <summary>The MLP of the official blocks (one of <see cref="Mlps.Names"/>; "none" for blocks that are the mixer alone).</summary>
    public string DefaultMlp { get; init; } = "swiglu";
    /// <summary>Whether the official model normalises the token embedding (RWKV's ln0); applies when this mixer is layer 0's.</summary>
    public bool EmbeddingNorm { get; init; }
    /// <summary>Mixer parameter names (last part of the module path) that weight decay skips even though they are matrices.</summary>
    public IReadOnlyList<string> NoDecayParameters { get; init; } = [];
    /// <summary>The whole-sequence forms a training step can use (the first is the default); benchmarks measure each.</summary>
    public IReadOnlyList<MixerForm> TrainingForms { get; init; } = [MixerForm.Default];
    /// <summary>Whether the mixer runs a scan kernel, so that its <see cref="Mixer.ScanBackend"/> matters (tests run it on each).</summary>
    public bool UsesScanBackend { get; init; }
    /// <summary>The official checkpoint layout this architecture imports from, if any.</summary>
    public IModelImporter? Importer { get; init; }
    /// <summary>Checks the config fields this mixer reads (its options record, <see cref="Models.SsmOptions"/> and the like).</summary>
    public Action<ModelConfig> ValidateConfig { get; init; } = _ => { };
    /// <summary>Parameters of layer <c>int</c>'s mixer for a config, from its fields alone (a double: a hostile config's count
    /// may not fit a long).</summary>
    public required Func<ModelConfig, int, double> ParameterCount { get; init; }
    /// <summary>Decode-state elements of one mixer for one sequence at the config's full context length.</summary>
    public required Func<ModelConfig, double> StateElements { get; init; }
}

/// <summary>A whole-sequence form of a mixer (RetNet: parallel or chunkwise): its name and how a config selects it, given
/// the chunk length a chunked form should use.</summary>
public sealed record MixerForm(string Name, Func<ModelConfig, int, ModelConfig> Apply)
{
    /// <summary>For mixers with one form: "parallel", the config as it is.</summary>
    public static readonly MixerForm Default = new("parallel", (config, _) => config);
    /// <summary>Whether its memory grows with the square of the length (benchmarks cap its lengths).</summary>
    public bool Quadratic { get; init; }
}

/// <summary>Maps the mixer names used in configs and on the command line to their <see cref="MixerSpec"/>. The four
/// architectures of the library are registered here; a test or a plug-in adds its own with <see cref="Register"/>.</summary>
public static class MixerRegistry
{
    static readonly object gate = new();
    static readonly List<MixerSpec> specs = [];
    static readonly Dictionary<string, MixerSpec> byName = [];

    static MixerRegistry()
    {
        Register(Attention.Spec);
        Register(Retention.Spec);
        Register(Rwkv4TimeMix.Spec);
        Register(Mamba.Spec);
        Register(Mamba2.Spec);
        Register(Rwkv7TimeMix.Spec);
        Register(GatedDeltaNet.Spec);
    }

    /// <summary>Adds an architecture; its name and aliases must be new.</summary>
    public static void Register(MixerSpec spec)
    {
        lock (gate)
        {
            foreach (string name in spec.Aliases.Prepend(spec.Name))
                if (byName.ContainsKey(name)) throw new ArgumentException($"mixer name '{name}' is already registered");
            specs.Add(spec);
            foreach (string name in spec.Aliases.Prepend(spec.Name)) byName[name] = spec;
        }
    }

    /// <summary>Registered architectures, in registration order (the first is the default).</summary>
    public static IReadOnlyList<string> Names { get { lock (gate) return specs.Select(s => s.Name).ToArray(); } }

    public static IReadOnlyList<MixerSpec> Specs { get { lock (gate) return specs.ToArray(); } }

    /// <summary>The architecture of a config that does not name one, and of the CLI's --arch.</summary>
    public static string DefaultName => Names[0];

    public static string Canonical(string name) { lock (gate) return byName.TryGetValue(name, out var spec) ? spec.Name : name; }

    public static bool IsKnown(string name) { lock (gate) return byName.ContainsKey(name); }

    public static MixerSpec Spec(string name)
    {
        lock (gate)
            return byName.TryGetValue(name, out var spec)
                ? spec
                : throw new ConfigException($"unknown mixer '{name}' (known: {string.Join(", ", specs.Select(s => s.Name))})");
    }

    public static Mixer Create(string name, ModelConfig config, double outputInitStd, int layer = 0) => Spec(name).Create(config, layer, outputInitStd);
}
