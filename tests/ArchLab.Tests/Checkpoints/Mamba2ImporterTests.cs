using System.Text.Json.Nodes;
using ArchLab.Checkpoints;
using ArchLab.Checkpoints.Importers;
using ArchLab.Models;
using ArchLab.Tests.TestSupport;
using TorchSharp;
using static TorchSharp.torch;

namespace ArchLab.Tests.Checkpoints;

/// <summary>The state-spaces/mamba importer for Mamba2 layers: every option the official config allows is read or
/// refused naming it; untied and tied heads, vocabulary padding and a GatedMLP (d_intermediate) load exactly.</summary>
public sealed class Mamba2ImporterTests : IDisposable
{
    static readonly GoldenCase Case = new("mamba2", "case1_d48_h6_g2_chunk16");
    readonly EditedCheckpoint checkpoint = new(Case, "archlab-mamba2-import-");

    public void Dispose() => checkpoint.Dispose();

    [Fact]
    public void ReadsTheOfficialConfig()
    {
        using var model = ModelLoader.Load(Case.Dir);
        var c = model.Config;
        Assert.Equal(("mamba2", 48, 2, 104, false), (c.Arch, c.Dim, c.Layers, c.VocabSize, c.TiedEmbeddings));
        Assert.Equal((8, 4, 96, 16, 2, 16, false), (c.DState, c.Ssm.ConvKernel, c.Ssm.InnerDim, c.SsmHeadDim, c.SsmGroups, c.SsmChunkSize, c.NormBeforeGate));
        Assert.Equal(("none", true, false), (c.MlpOf(0), c.ConvBias, c.ProjBias));
        Assert.NotNull(model.head);
        var mixer = (ArchLab.Mixers.Mamba2)model.blocks[0].mixer;
        Assert.Equal((6, 96 + 2 * 2 * 8), (mixer.Heads, mixer.ConvChannels));
    }

    [Fact]
    public void AMamba1CheckpointStillGoesToTheMambaImporter()
    {
        using var model = ModelLoader.Load(new GoldenCase("mamba", "case1_d48_state8_expand2_tied").Dir);
        Assert.Equal("mamba", model.Config.Arch);
    }

    [Fact]
    public void MissingAndMisshapenTensorsAreNamed()
    {
        var e = Assert.Throws<CheckpointException>(() => ModelLoader.Load(checkpoint.Write(editTensors: t => t.Remove("backbone.layers.1.mixer.dt_bias"))));
        Assert.Contains("missing tensor 'backbone.layers.1.mixer.dt_bias'", e.Message);
        e = Assert.Throws<CheckpointException>(() => ModelLoader.Load(checkpoint.Write(editTensors: t => t["backbone.layers.0.mixer.norm.weight"] = ones(48))));
        Assert.Contains("'backbone.layers.0.mixer.norm.weight' has shape [48]", e.Message);
    }

    [Theory]
    [InlineData("D_has_hdim", "true", "D_has_hdim")]
    [InlineData("rmsnorm", "false", "rmsnorm")]
    [InlineData("d_ssm", "64", "d_ssm")]
    [InlineData("dt_limit", "[0.001, 0.1]", "dt_limit")]
    [InlineData("headdim", "20", "headdim")]
    [InlineData("ngroups", "4", "ngroups")]
    [InlineData("chunk_size", "0", "chunk_size")]
    [InlineData("expand", "1.5", "expand")]
    [InlineData("d_head", "16", "d_head")]
    public void UnsupportedOrInvalidSsmOptionIsRefusedNamingIt(string field, string json, string named)
    {
        var e = Assert.Throws<ConfigException>(() => ModelLoader.Load(checkpoint.Write(editConfig: c => c["ssm_cfg"]![field] = JsonNode.Parse(json))));
        Assert.Contains($"'{named}'", e.Message);
    }

    [Theory]
    [InlineData("attn_layer_idx", "[1]", "attn_layer_idx")]
    [InlineData("rms_norm", "false", "rms_norm")]
    [InlineData("d_intermediate", "-1", "d_intermediate")]
    [InlineData("norm_epsilon", "1e-6", "norm_epsilon")]
    public void UnsupportedOrInvalidModelOptionIsRefusedNamingIt(string field, string json, string named)
    {
        var e = Assert.Throws<ConfigException>(() => ModelLoader.Load(checkpoint.Write(editConfig: c => c[field] = JsonNode.Parse(json))));
        Assert.Contains($"'{named}'", e.Message);
    }

    [Fact]
    public void InitialisationAndKernelOptionsAreAccepted()
    {
        using var model = ModelLoader.Load(checkpoint.Write(editConfig: c =>
        {
            var ssm = c["ssm_cfg"]!.AsObject();
            ssm["A_init_range"] = JsonNode.Parse("[1, 8]");
            ssm["dt_min"] = 0.01; ssm["dt_max"] = 0.2; ssm["dt_init_floor"] = 1e-3; ssm["conv_init"] = 0.5;
            ssm["use_mem_eff_path"] = true; ssm["D_has_hdim"] = false; ssm["dt_limit"] = null; ssm["d_ssm"] = 96;
            c["fused_add_norm"] = true;
        }));
        Assert.Equal("mamba2", model.Config.Arch);
    }

    /// <summary>A config with every supported option off its default (tied head, vocabulary padding to 16, one group per
    /// head, gate after the norm, biases, no conv bias, a GatedMLP of width 100 → 128), written in the official layout
    /// (fc1 = [value; gate]), loads back to the same logits.</summary>
    [Fact]
    public void TiedHeadBiasesGroupsAndGatedMlpRoundTrip()
    {
        var official = """
            {"d_model": 32, "n_layer": 2, "vocab_size": 50, "pad_vocab_size_multiple": 16, "tie_embeddings": true, "d_intermediate": 100,
             "ssm_cfg": {"layer": "Mamba2", "d_state": 6, "d_conv": 3, "expand": 2, "headdim": 8, "ngroups": 8, "chunk_size": 4,
                         "norm_before_gate": true, "bias": true, "conv_bias": false},
             "rms_norm": true, "residual_in_fp32": true, "fused_add_norm": false, "attn_layer_idx": [], "attn_cfg": {}}
            """;
        var importer = new Mamba2Importer();
        var config = importer.ReadConfig(System.Text.Json.JsonDocument.Parse(official).RootElement, "test");
        Assert.Equal((64, true, "swiglu", 128, 8, true), (config.VocabSize, config.TiedEmbeddings, config.MlpOf(0), config.FfnHiddenSize, config.SsmGroups, config.NormBeforeGate));
        using var source = EditedCheckpoint.PerturbedModel(config, seed: 3);
        var tensors = new Dictionary<string, Tensor>();
        foreach (var (name, p) in source.named_parameters())
            if (!name.Contains(".mlp.w1.") && !name.Contains(".mlp.w3.")) tensors[importer.OfficialName(name)] = p.detach().clone();
        for (int i = 0; i < 2; i++)
        {
            var mlp = (SwiGluMlp)source.blocks[i].mlp!;
            tensors[$"backbone.layers.{i}.mlp.fc1.weight"] = cat([mlp.w3.weight.detach(), mlp.w1.weight.detach()], 0);
        }
        Assert.Contains("backbone.layers.1.mixer.dt_bias", tensors.Keys);
        Assert.Contains("backbone.layers.1.mixer.norm.weight", tensors.Keys);
        Assert.Contains("backbone.layers.1.norm2.weight", tensors.Keys);
        Assert.DoesNotContain("lm_head.weight", tensors.Keys);
        checkpoint.AssertLoadsToSameLogits(source, official, tensors, vocabSize: 50);
    }
}
