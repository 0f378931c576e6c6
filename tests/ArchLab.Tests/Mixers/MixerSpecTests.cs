using System.Text.RegularExpressions;
using ArchLab.Checkpoints;
using ArchLab.Mixers;
using ArchLab.Models;
using ArchLab.Tests.TestSupport;

namespace ArchLab.Tests.Mixers;

/// <summary>What the registry promises: architecture specifics live in each mixer's spec, nowhere else.</summary>
public class MixerSpecTests
{
    static string RepositoryRoot()
    {
        for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir is not null; dir = dir.Parent)
            if (File.Exists(Path.Combine(dir.FullName, "ArchLab.sln"))) return dir.FullName;
        throw new InvalidOperationException("no ArchLab.sln above the test binaries");
    }

    /// <summary>
    /// No string literal in src/ names an architecture (or an alias) outside the file that declares its spec and the
    /// checkpoint importers (which read the official layouts' own names). Callers get names from the registry, or refer
    /// to a spec by its type (<c>Mamba.Spec.Name</c>), which the compiler checks.
    /// </summary>
    [Fact]
    public void NoArchitectureNameOutsideItsSpecAndImporter()
    {
        string src = Path.Combine(RepositoryRoot(), "src");
        var offenders = new List<string>();
        var files = Directory.EnumerateFiles(src, "*.cs", SearchOption.AllDirectories)
            .Where(f => !f.Contains($"{Path.DirectorySeparatorChar}obj{Path.DirectorySeparatorChar}") && !f.Contains($"{Path.DirectorySeparatorChar}bin{Path.DirectorySeparatorChar}"))
            .ToList();
        Assert.True(files.Count > 50, $"found only {files.Count} source files under {src}");
        var specFiles = new Dictionary<string, string>();
        foreach (var spec in MixerRegistry.Specs.Where(s => s.Create.Method.DeclaringType?.Assembly == typeof(MixerSpec).Assembly))
        {
            var declaring = files.Where(f => Regex.IsMatch(File.ReadAllText(f), $@"MixerSpec\s+Spec\s*=\s*new\(\s*""{Regex.Escape(spec.Name)}""")).ToList();
            Assert.True(declaring.Count == 1, $"{spec.Name}: {declaring.Count} files declare its spec");
            foreach (string name in spec.Aliases.Prepend(spec.Name)) specFiles[name] = declaring[0];
        }
        Assert.Contains("rwkv4", specFiles.Keys); // the check looks at the real names
        foreach (string file in files)
        {
            if (file.Contains($"Checkpoints{Path.DirectorySeparatorChar}Importers")) continue;
            string text = File.ReadAllText(file);
            foreach (var (name, owner) in specFiles)
                if (file != owner && text.Contains($"\"{name}\"", StringComparison.Ordinal))
                    offenders.Add($"{Path.GetRelativePath(src, file)} names \"{name}\"");
        }
        Assert.True(offenders.Count == 0, string.Join("\n", offenders));
    }

    /// <summary>
    /// The notebooks' code cells (not their prose or stored outputs) name no architecture in a string literal either:
    /// they take the list from the registry (<c>MixerRegistry.Names</c>, <c>MixerRegistry.Specs</c>), so a new mixer shows
    /// up in every table and chart.
    /// </summary>
    [Fact]
    public void NoArchitectureNameInANotebooksCode()
    {
        string notebooks = Path.Combine(RepositoryRoot(), "notebooks");
        var paths = Directory.GetFiles(notebooks, "*.ipynb");
        Assert.NotEmpty(paths);
        var names = MixerRegistry.Specs.Where(s => s.Create.Method.DeclaringType?.Assembly == typeof(MixerSpec).Assembly)
            .SelectMany(s => s.Aliases.Prepend(s.Name)).ToList();
        Assert.Contains("transformer", names);
        var offenders = new List<string>();
        foreach (string path in paths)
        {
            var cells = System.Text.Json.Nodes.JsonNode.Parse(File.ReadAllText(path))!["cells"]!.AsArray();
            for (int i = 0; i < cells.Count; i++)
            {
                if (cells[i]!["cell_type"]!.GetValue<string>() != "code") continue;
                string code = string.Concat(cells[i]!["source"]!.AsArray().Select(l => l!.GetValue<string>()));
                foreach (string name in names)
                    if (code.Contains($"\"{name}\"", StringComparison.Ordinal))
                        offenders.Add($"{Path.GetFileName(path)} cell {i} names \"{name}\"");
            }
        }
        Assert.True(offenders.Count == 0, string.Join("\n", offenders));
    }

    /// <summary>A config file with only the architecture gets the official RWKV-4 block: LayerNorm, channel mixing and the
    /// embedding LayerNorm ln0, the same modules and shapes as the official checkpoint's import.</summary>
    [Fact]
    public void Rwkv4ConfigWithOnlyTheArchitectureBuildsTheOfficialModel()
    {
        string dir = Directory.CreateTempSubdirectory("archlab-rwkv4-config").FullName;
        try
        {
            string path = Path.Combine(dir, "model.json");
            File.WriteAllText(path, """{"arch": "rwkv4"}""");
            var config = ModelConfig.Load(path); // what `train --config` reads
            using var model = new LanguageModel(config);
            Assert.NotNull(model.embed_norm);
            Assert.IsType<TorchSharp.Modules.LayerNorm>(model.embed_norm);
            Assert.IsType<Rwkv4ChannelMix>(model.blocks[0].mlp);

            using var official = ModelLoader.Load(new GoldenCase("rwkv4", "case1_d32_L2_ffn128").Dir);
            var c = official.Config;
            using var same = new LanguageModel(ModelConfig.FromJson(
                $$"""{"arch": "rwkv4", "dim": {{c.Dim}}, "layers": {{c.Layers}}, "vocab_size": {{c.VocabSize}}, "ffn_hidden": {{c.FfnHidden}}, "heads": {{c.Heads}}}"""));
            var expected = official.named_parameters().Select(p => $"{p.name} [{string.Join(",", p.parameter.shape)}]").ToList();
            var actual = same.named_parameters().Select(p => $"{p.name} [{string.Join(",", p.parameter.shape)}]").ToList();
            Assert.Contains(expected, n => n.StartsWith("embed_norm.", StringComparison.Ordinal));
            Assert.Equal(expected, actual);
        }
        finally { Directory.Delete(dir, recursive: true); }
    }

    [Fact]
    public void WeightDecaySkipsWhatTheSpecSays()
    {
        using var model = new LanguageModel(new ModelConfig { Dim = 16, Heads = 2, Layers = 2, LayerPattern = [Mamba.Spec.Name, Attention.Spec.Name] });
        var (decay, noDecay) = model.WeightDecayGroups();
        var named = model.named_parameters().ToList();
        bool Exempt(string name, TorchSharp.torch.Tensor p) => p.dim() < 2 || name == "blocks.0.mixer.A_log";
        Assert.Contains(named, p => p.name == "blocks.0.mixer.A_log" && p.parameter.dim() == 2);
        static string Shapes(IEnumerable<TorchSharp.torch.Tensor> ps) => string.Join(" ", ps.Select(p => $"[{string.Join(",", p.shape)}]"));
        Assert.Equal(Shapes(named.Where(p => Exempt(p.name, p.parameter)).Select(p => p.parameter)), Shapes(noDecay));
        Assert.Equal(Shapes(named.Where(p => !Exempt(p.name, p.parameter)).Select(p => p.parameter)), Shapes(decay));
    }

    [Fact]
    public void RegistryRefusesADuplicateName()
    {
        var e = Assert.Throws<ArgumentException>(() => MixerRegistry.Register(Attention.Spec with { Aliases = [] }));
        Assert.Contains("already registered", e.Message);
    }

    /// <summary>Each mixer validates the options it reads: the rotary even-head-dim rule binds attention (with RoPE) and
    /// RetNet, not RWKV or Mamba, which have no heads; the messages name the field.</summary>
    [Fact]
    public void ConfigIsValidatedForTheMixersItsLayersUse()
    {
        const string oddHeads = "\"dim\": 30, \"heads\": 10, \"layers\": 1";
        foreach (var spec in new[] { Rwkv4TimeMix.Spec, Mamba.Spec })
            Assert.Equal(10, ModelConfig.FromJson($"{{\"arch\": \"{spec.Name}\", {oddHeads}}}").Heads);
        foreach (var spec in new[] { Attention.Spec, Retention.Spec })
            Assert.Contains("must be even", Assert.Throws<ConfigException>(() => ModelConfig.FromJson($"{{\"arch\": \"{spec.Name}\", {oddHeads}}}")).Message);
        Assert.Equal(10, ModelConfig.FromJson($"{{\"arch\": \"{Attention.Spec.Name}\", \"no_rope\": true, {oddHeads}}}").Heads);
        var hybrid = $"{{\"layer_pattern\": [\"{Mamba.Spec.Name}\", \"{Retention.Spec.Name}\"], \"dim\": 30, \"heads\": 10, \"layers\": 2}}";
        Assert.Contains("must be even", Assert.Throws<ConfigException>(() => ModelConfig.FromJson(hybrid)).Message);
        Assert.Contains("'d_state'", Assert.Throws<ConfigException>(() => ModelConfig.FromJson($"{{\"arch\": \"{Mamba.Spec.Name}\", \"d_state\": 0}}")).Message);
        Assert.Equal(16, new ModelConfig().Ssm.StateSize); // defaults resolved in the record
        Assert.Equal(64, new ModelConfig { Dim = 32 }.Ssm.InnerDim);
    }
}
