using System.Text.Json.Nodes;
using ArchLab.Checkpoints;
using ArchLab.Models;
using ArchLab.Tests.TestSupport;

namespace ArchLab.Tests.Models;

/// <summary>Issue 15 F3–F6: configs too large for the machine, null or non-object configs and zero divisors are refused
/// with one line naming the field, before any tensor is allocated; the size estimate matches the modules built.</summary>
public sealed class ConfigBoundsTests : IDisposable
{
    readonly string dir = Directory.CreateTempSubdirectory("archlab-config-bounds-").FullName;

    public void Dispose() => Directory.Delete(dir, recursive: true);

    [Theory]
    [InlineData("""{"vocab_size": 1073741824}""", "'vocab_size' = 1073741824 is above the limit")]
    [InlineData("""{"dim": 1073741824}""", "'dim' = 1073741824 is above the limit")]
    [InlineData("""{"layers": 65536}""", "'layers' = 65536 is above the limit")]
    [InlineData("""{"ffn_hidden": 2147483647}""", "'ffn_hidden' = 2147483647 is above the limit")]
    [InlineData("""{"context_length": 2147483647}""", "'context_length' = 2147483647 is above the limit")]
    [InlineData("""{"arch": "mamba", "d_state": 1000000}""", "'d_state' = 1000000 is above the limit")]
    [InlineData("""{"arch": "mamba", "d_conv": 1000000}""", "'d_conv' = 1000000 is above the limit")]
    [InlineData("""{"arch": "mamba", "expand": 1e300}""", "'expand'")]
    [InlineData("""{"arch": "mamba", "dt_rank": 2000000000}""", "'dt_rank' = 2000000000 is above the limit")]
    public void FieldsAboveTheirLimitAreNamed(string json, string expected)
    {
        var e = Assert.Throws<ConfigException>(() => ModelConfig.FromJson(json, "big.json"));
        Assert.Contains(expected, e.Message);
        Assert.StartsWith("big.json: ", e.Message);
    }

    [Theory]
    [InlineData("""{"dim": 65536, "heads": 4}""", "'dim' = 65536")]
    [InlineData("""{"dim": 4096, "heads": 32, "layers": 4096}""", "'layers' = 4096")]
    [InlineData("""{"vocab_size": 16777216, "dim": 16384, "heads": 4, "layers": 1, "ffn_hidden": 1}""", "'vocab_size' = 16777216")]
    [InlineData("""{"arch": "mamba", "dim": 4096, "layers": 64, "d_state": 65536}""", "'d_state' = 65536")]
    public void ConfigLargerThanTheMachineIsRefusedWithTheEstimate(string json, string field)
    {
        var e = Assert.Throws<ConfigException>(() => ModelConfig.FromJson(json, "big.json"));
        Assert.Contains(field, e.Message);
        Assert.Contains("too large: an estimated", e.Message);
        Assert.Contains("of memory here", e.Message);
        Assert.DoesNotContain("\n", e.Message);
    }

    [Fact]
    public void TheMemoryCheckUsesTheGivenBudget()
    {
        var config = new ModelConfig();
        double bytes = ModelSize.Bytes(config);
        ModelLimits.CheckFitsInMemory(config, (long)bytes + 1);
        var e = Assert.Throws<ConfigException>(() => ModelLimits.CheckFitsInMemory(config, (long)bytes - 1));
        Assert.Contains("too large", e.Message);
    }

    public static TheoryData<string> SmallConfigs() => new()
    {
        """{"arch": "transformer", "dim": 32, "heads": 4, "kv_heads": 2, "layers": 2, "vocab_size": 50}""",
        """{"arch": "transformer", "dim": 32, "heads": 4, "layers": 1, "tied_embeddings": true, "position_embedding": true, "context_length": 20}""",
        """{"arch": "rwkv4", "dim": 24, "dim_att": 16, "ffn_hidden": 40, "heads": 1, "layers": 2, "vocab_size": 30}""",
        """{"arch": "retnet", "dim": 24, "heads": 3, "value_dim": 48, "ffn_hidden": 40, "layers": 2, "norm": "rmsnorm", "mlp": "glu"}""",
        """{"arch": "mamba", "dim": 24, "heads": 1, "layers": 2, "d_state": 4, "d_conv": 3, "expand": 1.5, "dt_rank": 5, "proj_bias": true, "conv_bias": false}""",
        """{"arch": "mamba", "dim": 32, "heads": 4, "layers": 3, "layer_pattern": ["mamba", "transformer", "rwkv4"]}""",
    };

    [Theory]
    [MemberData(nameof(SmallConfigs))]
    public void TheEstimateCountsEveryParameterOfTheModel(string json)
    {
        var config = ModelConfig.FromJson(json);
        using var model = new LanguageModel(config);
        long actual = model.parameters().Sum(p => p.numel());
        Assert.Equal(actual, (long)ModelSize.Parameters(config));
    }

    [Fact]
    public void NullArchIsNamed()
    {
        var e = Assert.Throws<ConfigException>(() => ModelConfig.FromJson("""{"arch": null}""", "c.json"));
        Assert.Equal("c.json: model config: 'arch' must be a mixer name, got null", e.Message);
        e = Assert.Throws<ConfigException>(() => ModelConfig.FromJson("""{"layers": 2, "layer_pattern": ["mamba", null]}""", "c.json"));
        Assert.Contains("'layer_pattern' entry 1", e.Message);
    }

    [Theory]
    [InlineData("[]")]
    [InlineData("null")]
    [InlineData("42")]
    [InlineData("\"x\"")]
    public void ConfigThatIsNotAnObjectIsRefusedByEveryLoader(string json)
    {
        File.WriteAllText(Path.Combine(dir, "config.json"), json);
        Safetensors.Write(Path.Combine(dir, "model.safetensors"), new Dictionary<string, TorchSharp.torch.Tensor>());
        foreach (var format in ModelLoader.Formats)
        {
            var e = Assert.ThrowsAny<Exception>(() => ModelLoader.Load(dir, format).Dispose());
            Assert.True(e is ConfigException, $"{format}: {e.GetType().Name}: {e.Message}");
            Assert.Contains("config.json", e.Message);
        }
    }

    [Theory]
    [InlineData("""{"arch": "\udc00"}""")]
    [InlineData("""{"layer_pattern": ["a\ud800"], "layers": 1}""")]
    public void ALoneSurrogateInAConfigIsAConfigError(string json)
    {
        var e = Assert.Throws<ConfigException>(() => ModelConfig.FromJson(json, "c.json"));
        Assert.StartsWith("c.json: invalid model config", e.Message);
    }

    [Fact]
    public void ALoneSurrogateInAnOfficialConfigIsAConfigError()
    {
        // Found by ModelLoaderFuzzTests: JsonElement.TryGetProperty threw InvalidOperationException.
        string folder = EditedCase("rwkv4", "case1_d32_L2_ffn128", c => c["model_type"] = "x");
        File.WriteAllText(Path.Combine(folder, "config.json"), File.ReadAllText(Path.Combine(folder, "config.json")).Replace("\"x\"", "\"\\udc00\""));
        var e = Assert.Throws<ConfigException>(() => ModelLoader.Load(folder).Dispose());
        Assert.Contains("$.model_type is not valid Unicode", e.Message);
    }

    /// <summary>A golden case's folder copied with its config edited.</summary>
    string EditedCase(string arch, string name, Action<JsonObject> edit)
    {
        var source = new GoldenCase(arch, name).Dir;
        var config = JsonNode.Parse(File.ReadAllText(Path.Combine(source, "config.json")))!.AsObject();
        edit(config);
        File.WriteAllText(Path.Combine(dir, "config.json"), config.ToJsonString());
        File.Copy(Path.Combine(source, "model.safetensors"), Path.Combine(dir, "model.safetensors"), overwrite: true);
        return dir;
    }

    [Theory]
    [InlineData("multiple_of", "0", "'multiple_of' must be positive")]
    [InlineData("multiple_of", "-32", "'multiple_of' must be positive")]
    [InlineData("multiple_of", "2000000000", "'multiple_of'")]
    [InlineData("ffn_dim_multiplier", "-1", "'ffn_dim_multiplier' must be a positive number")]
    [InlineData("ffn_dim_multiplier", "1e300", "'ffn_dim_multiplier'")]
    [InlineData("dim", "1073741824", "'dim'")]
    [InlineData("vocab_size", "1073741824", "'vocab_size'")]
    [InlineData("n_layers", "65536", "'layers'")]
    public void LlamaConfigBoundsAreNamed(string field, string value, string expected)
    {
        string folder = EditedCase("llama", "case1_d64_h4_mha", c => c[field] = JsonNode.Parse(value));
        var e = Assert.Throws<ConfigException>(() => ModelLoader.Load(folder).Dispose());
        Assert.Contains(expected, e.Message);
        Assert.Contains("config.json", e.Message);
    }

    [Theory]
    [InlineData("decoder_ffn_embed_dim", "2147483647", "'ffn_hidden'")]
    [InlineData("decoder_layers", "65536", "'layers'")]
    [InlineData("decoder_embed_dim", "786432", "'dim'")]
    public void RetNetConfigBoundsAreNamed(string field, string value, string expected)
    {
        string folder = EditedCase("retnet", "case1_d48_h3_v96_swish", c => c[field] = JsonNode.Parse(value));
        var e = Assert.Throws<ConfigException>(() => ModelLoader.Load(folder).Dispose());
        Assert.True(e.Message.Contains(expected), e.Message);
    }

    [Theory]
    [InlineData("d_state", "1000000", "'d_state'")]
    [InlineData("d_conv", "1000000", "'d_conv'")]
    [InlineData("dt_rank", "2000000000", "'dt_rank'")]
    [InlineData("expand", "1e12", "'expand'")]
    public void MambaConfigBoundsAreNamed(string field, string value, string expected)
    {
        string folder = EditedCase("mamba", "case1_d48_state8_expand2_tied", c => c["ssm_cfg"]!.AsObject()[field] = JsonNode.Parse(value));
        var e = Assert.Throws<ConfigException>(() => ModelLoader.Load(folder).Dispose());
        Assert.Contains(expected, e.Message);
    }

    [Fact]
    public void Rwkv4ConfigWithoutTheFieldGetsItsEmbeddingNorm()
    {
        var rwkv = ModelConfig.FromJson("""{"arch": "rwkv4", "dim": 16, "heads": 1, "layers": 1}""");
        Assert.True(rwkv.EmbeddingNorm);
        using (var model = new LanguageModel(rwkv)) Assert.NotNull(model.embed_norm);
        Assert.DoesNotContain("embedding_norm", rwkv.ToJson());
        Assert.True(ModelConfig.FromJson(rwkv.ToJson()).EmbeddingNorm);

        var without = ModelConfig.FromJson("""{"arch": "rwkv4", "dim": 16, "heads": 1, "layers": 1, "embedding_norm": false}""");
        Assert.False(without.EmbeddingNorm);
        Assert.Contains("\"embedding_norm\": false", without.ToJson());
        Assert.False(ModelConfig.FromJson(without.ToJson()).EmbeddingNorm);

        Assert.False(new ModelConfig().EmbeddingNorm);
        Assert.True(new ModelConfig() with { Arch = "rwkv4" } is { EmbeddingNorm: true });
        Assert.True(new ModelConfig { Arch = "transformer", EmbeddingNorm = true }.EmbeddingNorm);
        Assert.True(new ModelConfig { Arch = "mamba", Layers = 2, LayerPattern = ["rwkv4", "mamba"] }.EmbeddingNorm);
    }
}
