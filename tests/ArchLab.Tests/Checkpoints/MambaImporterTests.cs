using System.Text.Json.Nodes;
using ArchLab.Checkpoints;
using ArchLab.Checkpoints.Importers;
using ArchLab.Models;
using ArchLab.Tests.TestSupport;
using TorchSharp;
using static TorchSharp.torch;

namespace ArchLab.Tests.Checkpoints;

/// <summary>The state-spaces/mamba importer: config mapping, any shape and bias option, tied/untied heads, clear errors.</summary>
public sealed class MambaImporterTests : IDisposable
{
    static readonly GoldenCase Case = new("mamba", "case1_d48_state8_expand2_tied");
    readonly EditedCheckpoint checkpoint = new(Case, "archlab-mamba-import-");

    public void Dispose() => checkpoint.Dispose();

    [Fact]
    public void ReadsTheOfficialConfig()
    {
        using var model = ModelLoader.Load(Case.Dir);
        var c = model.Config;
        Assert.Equal(("mamba", 48, 2, 104, true), (c.Arch, c.Dim, c.Layers, c.VocabSize, c.TiedEmbeddings));
        Assert.Equal((8, 4, 96, 3, true, false), (c.Ssm.StateSize, c.Ssm.ConvKernel, c.Ssm.InnerDim, c.Ssm.DtRankSize, c.ConvBias, c.ProjBias));
        Assert.Equal("none", c.MlpOf(0));
        Assert.Null(model.head);
    }

    [Fact]
    public void MissingTensorIsNamed()
    {
        var e = Assert.Throws<CheckpointException>(() => ModelLoader.Load(checkpoint.Write(editTensors: t => t.Remove("backbone.layers.1.mixer.A_log"))));
        Assert.Contains("missing tensor 'backbone.layers.1.mixer.A_log'", e.Message);
    }

    [Fact]
    public void WrongShapeIsNamed()
    {
        var e = Assert.Throws<CheckpointException>(() => ModelLoader.Load(checkpoint.Write(editTensors: t =>
            t["backbone.layers.0.mixer.conv1d.weight"] = zeros(96, 1, 3))));
        Assert.Contains("'backbone.layers.0.mixer.conv1d.weight' has shape [96, 1, 3]", e.Message);
    }

    [Fact]
    public void UnusedTensorIsNamed()
    {
        var e = Assert.Throws<CheckpointException>(() => ModelLoader.Load(checkpoint.Write(editTensors: t =>
            t["backbone.layers.0.mixer.extra"] = zeros(3))));
        Assert.Contains("'backbone.layers.0.mixer.extra'", e.Message);
    }

    [Fact]
    public void TiedHeadMustEqualTheEmbedding()
    {
        var e = Assert.Throws<CheckpointException>(() => ModelLoader.Load(checkpoint.Write(editTensors: t =>
            t["lm_head.weight"] = t["lm_head.weight"] + 1)));
        Assert.Contains("'lm_head.weight'", e.Message);
        // A tied checkpoint may also omit the head.
        using var model = ModelLoader.Load(checkpoint.Write(editTensors: t => t.Remove("lm_head.weight")));
        Assert.True(model.Config.TiedEmbeddings);
    }

    [Theory]
    [InlineData("top", "rope_theta")]
    [InlineData("ssm_cfg", "d_head")]
    public void UnknownConfigFieldIsNamed(string where, string field)
    {
        var e = Assert.Throws<ConfigException>(() => ModelLoader.Load(checkpoint.Write(editConfig: c =>
            (where == "top" ? c : c["ssm_cfg"]!.AsObject())[field] = 1)));
        Assert.Contains($"'{field}'", e.Message);
    }

    [Theory]
    [InlineData("d_intermediate", "-1", "d_intermediate")]
    [InlineData("attn_layer_idx", "[7]", "attn_layer_idx")]
    [InlineData("attn_layer_idx", "\"1\"", "attn_layer_idx")]
    [InlineData("rms_norm", "false", "rms_norm")]
    [InlineData("ssm_cfg", """{"layer": "Mamba3"}""", "Mamba3")]
    [InlineData("ssm_cfg", """{"dt_rank": "full"}""", "dt_rank")]
    [InlineData("ssm_cfg", """{"d_state": 0}""", "d_state")]
    [InlineData("vocab_size", "\"97\"", "vocab_size")]
    public void UnsupportedOrInvalidConfigIsRejected(string field, string json, string named)
    {
        var e = Assert.Throws<ConfigException>(() => ModelLoader.Load(checkpoint.Write(editConfig: c => c[field] = JsonNode.Parse(json))));
        Assert.Contains(named, e.Message);
    }

    /// <summary>An untied model with every option off its default, written in the official layout, loads back exactly.</summary>
    [Fact]
    public void DIntermediateWithoutItsTensorsNamesTheOfficialTensor()
    {
        var e = Assert.Throws<CheckpointException>(() => ModelLoader.Load(checkpoint.Write(editConfig: c => c["d_intermediate"] = 64)));
        Assert.True(e.Message.Contains("missing tensor 'backbone.layers.0.norm2.weight'"), e.Message);
        e = Assert.Throws<CheckpointException>(() => ModelLoader.Load(checkpoint.Write(editConfig: c => c["d_intermediate"] = 64,
            editTensors: t => { t["backbone.layers.0.norm2.weight"] = ones(48); t["backbone.layers.1.norm2.weight"] = ones(48); })));
        Assert.True(e.Message.Contains("missing tensor 'backbone.layers.0.mlp.fc1.weight'"), e.Message);
    }

    [Fact]
    public void UntiedHeadBiasesAndOtherShapesRoundTrip()
    {
        var official = """
            {"d_model": 32, "n_layer": 3, "vocab_size": 50, "pad_vocab_size_multiple": 16, "tie_embeddings": false,
             "ssm_cfg": {"d_state": 6, "d_conv": 3, "expand": 1.5, "dt_rank": 5, "conv_bias": false, "bias": true,
                         "dt_min": 0.01, "dt_max": 0.2, "dt_init": "constant", "dt_scale": 2.0, "use_fast_path": true},
             "residual_in_fp32": true, "fused_add_norm": true, "attn_layer_idx": [], "attn_cfg": {}}
            """;
        var importer = new MambaImporter();
        var config = importer.ReadConfig(System.Text.Json.JsonDocument.Parse(official).RootElement, "test");
        Assert.Equal((64, 6, 3, 48, 5, false, true, false), (config.VocabSize, config.Ssm.StateSize, config.Ssm.ConvKernel, config.Ssm.InnerDim,
                                                          config.Ssm.DtRankSize, config.ConvBias, config.ProjBias, config.TiedEmbeddings));
        using var source = EditedCheckpoint.PerturbedModel(config, seed: 3);
        var tensors = source.named_parameters().ToDictionary(p => importer.OfficialName(p.name), p => p.parameter.detach().clone());
        Assert.Contains("lm_head.weight", tensors.Keys);
        Assert.Contains("backbone.layers.2.mixer.in_proj.bias", tensors.Keys);
        Assert.Contains("backbone.layers.2.norm.weight", tensors.Keys);
        checkpoint.AssertLoadsToSameLogits(source, official, tensors, vocabSize: 50);
    }
}
