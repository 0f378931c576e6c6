using System.Text.Json.Nodes;
using ArchLab.Checkpoints;
using ArchLab.Inference;
using ArchLab.Models;
using ArchLab.Tests.TestSupport;
using TorchSharp;
using static TorchSharp.torch;

namespace ArchLab.Tests.Checkpoints;

/// <summary>torchscale RetNetDecoder checkpoints: config mapping, rejected settings, malformed tensors.</summary>
public sealed class RetNetImporterTests : IDisposable
{
    static readonly GoldenCase Case = new("retnet", "case1_d48_h3_v96_swish");
    readonly string dir = Path.Combine(Path.GetTempPath(), $"archlab-retnet-{Guid.NewGuid():N}");

    public RetNetImporterTests()
    {
        Directory.CreateDirectory(dir);
        foreach (var f in new[] { "config.json", "model.safetensors" }) File.Copy(Path.Combine(Case.Dir, f), Path.Combine(dir, f));
    }

    public void Dispose() => Directory.Delete(dir, recursive: true);

    void EditConfig(Action<JsonObject> edit)
    {
        string path = Path.Combine(dir, "config.json");
        var json = JsonNode.Parse(File.ReadAllText(path))!.AsObject();
        edit(json);
        File.WriteAllText(path, json.ToJsonString());
    }

    void EditWeights(Action<Dictionary<string, Tensor>> edit)
    {
        string path = Path.Combine(dir, "model.safetensors");
        Dictionary<string, Tensor> tensors;
        using (var file = Safetensors.Read(path)) tensors = file.Tensors.ToDictionary(kv => kv.Key, kv => kv.Value.clone());
        edit(tensors);
        Safetensors.Write(path, tensors);
    }

    [Fact]
    public void ReadsTheTorchscaleConfig()
    {
        using var model = ModelLoader.Load(dir);
        var c = model.Config;
        Assert.Equal(("retnet", 48, 96, 3, 96, 2, 97), (c.Arch, c.Dim, c.ValueDim, c.Heads, c.FfnHidden, c.Layers, c.VocabSize));
        Assert.Equal((1e-6, 8, (bool?)null, "glu", "swish", "rmsnorm", false),
                     (c.NormEps, c.RetentionChunkSize, c.RetentionChunkwise, c.Mlp, c.GluActivation, c.Norm, c.TiedEmbeddings));
    }

    /// <summary>chunkwise_recurrent = true makes whole-sequence passes use the chunkwise form, as the official decoder does.</summary>
    [Fact]
    public void ChunkwiseRecurrentConfigGivesTheOfficialChunkwiseLogitsInOnePass()
    {
        EditConfig(c => c["chunkwise_recurrent"] = true);
        using var io = Case.ReadIo();
        using var model = ModelLoader.Load(dir);
        model.to(ScalarType.Float64);
        using var logits = LogitsRunner.Run(model, io["input_ids"], DecodeMode.Parallel);
        TensorAssert.Close(io["logits_chunkwise"], logits, 1e-9, "chunkwise_recurrent, one pass");
    }

    [Fact]
    public void DerivedBuffersAreOptional()
    {
        EditWeights(t => { t.Remove("retnet_rel_pos.angle"); t.Remove("retnet_rel_pos.decay"); });
        using var model = ModelLoader.Load(dir);
        Assert.Equal("retnet", model.Config.Arch);
    }

    [Theory]
    [InlineData("layers.1.retention.g_proj.weight")]
    [InlineData("layers.0.ffn.gate.weight")]
    [InlineData("layer_norm.weight")]
    [InlineData("output_projection.weight")]
    public void MissingTensorIsNamed(string name)
    {
        EditWeights(t => t.Remove(name));
        var e = Assert.Throws<CheckpointException>(() => ModelLoader.Load(dir, "retnet"));
        Assert.Contains($"'{name}'", e.Message);
    }

    [Theory]
    [InlineData("layers.0.retention.v_proj.weight")]
    [InlineData("embed_tokens.weight")]
    public void WrongShapeIsNamed(string name)
    {
        EditWeights(t => t[name] = t[name].narrow(0, 0, t[name].shape[0] - 1).clone());
        var e = Assert.Throws<CheckpointException>(() => ModelLoader.Load(dir));
        Assert.Contains($"'{name}'", e.Message);
    }

    [Fact]
    public void WrongDecayBufferIsNamed()
    {
        EditWeights(t => t["retnet_rel_pos.decay"] = t["retnet_rel_pos.decay"] * 2);
        var e = Assert.Throws<CheckpointException>(() => ModelLoader.Load(dir));
        Assert.Contains("'retnet_rel_pos.decay'", e.Message);
    }

    [Fact]
    public void UnexpectedTensorIsNamed()
    {
        EditWeights(t => t["layers.2.ffn.fc1.weight"] = zeros(96, 48));
        var e = Assert.Throws<CheckpointException>(() => ModelLoader.Load(dir));
        Assert.Contains("'layers.2.ffn.fc1.weight'", e.Message);
    }

    [Fact]
    public void UnknownFieldIsNamed()
    {
        EditConfig(c => c["decoder_retention_head_dim"] = 16);
        var e = Assert.Throws<ConfigException>(() => ModelLoader.Load(dir));
        Assert.Contains("'decoder_retention_head_dim'", e.Message);
    }

    [Theory]
    [InlineData("deepnorm", "true")]
    [InlineData("moe_freq", "2")]
    [InlineData("multiway", "true")]
    [InlineData("xpos_rel_pos", "true")]
    [InlineData("decoder_normalize_before", "false")]
    [InlineData("no_output_layer", "true")]
    [InlineData("activation_fn", "\"tanh\"")]
    public void UnsupportedSettingIsNamed(string field, string value)
    {
        EditConfig(c => c[field] = JsonNode.Parse(value));
        var e = Assert.Throws<ConfigException>(() => ModelLoader.Load(dir));
        Assert.Contains($"'{field}'", e.Message);
    }

    [Fact]
    public void AScaledEmbeddingWithATiedHeadIsRefusedNamingTheField()
    {
        EditConfig(c => { c["no_scale_embedding"] = false; c["share_decoder_input_output_embed"] = true; });
        var e = Assert.Throws<ConfigException>(() => ModelLoader.Load(dir));
        Assert.Contains("'no_scale_embedding'", e.Message);
    }

    [Fact]
    public void LayernormEmbeddingNeedsItsTensor()
    {
        EditConfig(c => c["layernorm_embedding"] = true);
        var e = Assert.Throws<CheckpointException>(() => ModelLoader.Load(dir));
        Assert.Contains("'layernorm_embedding.weight'", e.Message);
    }

    [Fact]
    public void AScaledEmbeddingIsFoldedIntoTheTable()
    {
        using var plain = ModelLoader.Load(dir);
        EditConfig(c => c["no_scale_embedding"] = false);
        using var scaled = ModelLoader.Load(dir);
        TensorAssert.Close(plain.embed.weight! * Math.Sqrt(48), scaled.embed.weight!, 0, "embedding × √48");
    }

    [Fact]
    public void TiedOutputProjectionLoads()
    {
        EditConfig(c => c["share_decoder_input_output_embed"] = true);
        EditWeights(t => t["output_projection.weight"] = t["embed_tokens.weight"].clone());
        using var model = ModelLoader.Load(dir);
        Assert.True(model.Config.TiedEmbeddings);
        Assert.Null(model.head);
    }
}
