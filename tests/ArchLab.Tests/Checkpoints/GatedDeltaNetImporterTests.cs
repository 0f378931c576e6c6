using System.Text.Json;
using System.Text.Json.Nodes;
using ArchLab.Checkpoints;
using ArchLab.Checkpoints.Importers;
using ArchLab.Mixers;
using ArchLab.Models;
using ArchLab.Tests.TestSupport;
using static TorchSharp.torch;

namespace ArchLab.Tests.Checkpoints;

/// <summary>The flash-linear-attention Gated DeltaNet importer: config mapping, every option, tied/untied heads, clear errors.</summary>
public sealed class GatedDeltaNetImporterTests : IDisposable
{
    static readonly GoldenCase Case = new("gated_deltanet", "case1_d48_h2_v4_ev1.5_gate");
    readonly EditedCheckpoint checkpoint = new(Case, "archlab-gdn-import-");

    public void Dispose() => checkpoint.Dispose();

    ModelConfig Read(Action<JsonObject> edit)
    {
        var config = checkpoint.SourceConfig();
        edit(config);
        using var doc = JsonDocument.Parse(config.ToJsonString());
        return new GatedDeltaNetImporter().ReadConfig(doc.RootElement, "config.json");
    }

    [Fact]
    public void ReadsTheOfficialConfig()
    {
        using var model = ModelLoader.Load(Case.Dir);
        var c = model.Config;
        Assert.Equal(("gated_deltanet", 48, 2, 97, false), (c.Arch, c.Dim, c.Layers, c.VocabSize, c.TiedEmbeddings));
        Assert.Equal((2, 16, 4, 1.5, 4), (c.Heads, c.KeyHeadDim, c.ValueHeads, c.ValueExpand, c.Ssm.ConvKernel));
        Assert.Equal((true, true, false, 96, 1e-6), (c.OutputGate, c.ShortConv, c.NegativeEigenvalues, c.FfnHidden, c.NormEps));
        Assert.Equal(("rmsnorm", "swiglu"), (c.NormOf(0), c.MlpOf(0)));
        var mixer = Assert.IsType<GatedDeltaNet>(model.blocks[0].Mixer);
        Assert.Equal((24, 4), (mixer.ValueHeadDim, mixer.ValueHeads));
        Assert.NotNull(model.head);
    }

    [Fact]
    public void MlpWidthFollowsHiddenRatioWithoutIntermediateSize()
    {
        // GatedMLP: int(48 · 4 · 2/3) = 128, rounded up to a multiple of 256.
        Assert.Equal(256, Read(c => c["intermediate_size"] = null).FfnHidden);
        Assert.Equal(512, Read(c => { c["intermediate_size"] = null; c["hidden_size"] = 100; }).FfnHidden); // int(266.7) → 512
    }

    [Fact]
    public void FlaDefaultHeadLayoutNeedNotDivideTheWidth()
    {
        // fla's defaults: hidden 2048 with 6 heads of 256 (2048 is not a multiple of 6).
        var c = Read(c => { c["hidden_size"] = 2048; c["num_heads"] = 6; c["head_dim"] = 256; c["num_v_heads"] = null; c["num_hidden_layers"] = 1; });
        Assert.Equal((6, 256, 6), (c.Heads, c.KeyHeadDim, c.ValueHeads));
    }

    [Theory]
    [InlineData("attn", "{\"layers\": [1], \"num_heads\": 4}", "'attn'")]
    [InlineData("hidden_act", "\"powlu\"", "'hidden_act'")]
    [InlineData("attnres_block_size", "2", "'attnres_block_size'")]
    [InlineData("num_v_heads", "3", "'num_v_heads'")]
    [InlineData("num_v_heads", "1", "'num_v_heads'")]
    [InlineData("expand_v", "1.3", "'expand_v'")]
    [InlineData("attn_mode", "\"parallel\"", "'attn_mode'")]
    [InlineData("no_such_field", "1", "'no_such_field'")]
    [InlineData("use_gate", "\"yes\"", "'use_gate'")]
    public void UnsupportedOrBadOptionsAreRefusedByName(string field, string json, string named)
    {
        var e = Assert.Throws<ConfigException>(() => Read(c => c[field] = JsonNode.Parse(json)));
        Assert.Contains(named, e.Message);
    }

    [Fact]
    public void LoadsWithoutGateAndShortConvolutions()
    {
        string[] dropped = ["g_proj.weight", "q_conv1d.weight", "k_conv1d.weight", "v_conv1d.weight"];
        using var model = ModelLoader.Load(checkpoint.Write(
            c => { c["use_gate"] = false; c["use_short_conv"] = false; c["allow_neg_eigval"] = true; },
            t => { foreach (var layer in new[] { 0, 1 }) foreach (var name in dropped) t.Remove($"model.layers.{layer}.attn.{name}"); }));
        var mixer = Assert.IsType<GatedDeltaNet>(model.blocks[1].Mixer);
        Assert.Null(mixer.g_proj);
        Assert.Null(mixer.q_conv1d);
        Assert.True(model.Config.NegativeEigenvalues);
    }

    [Fact]
    public void TiedHeadLoadsWhenEqualAndIsRefusedWhenNot()
    {
        using (var tied = ModelLoader.Load(checkpoint.Write(c => c["tie_word_embeddings"] = true,
                   t => t["lm_head.weight"] = t["model.embeddings.weight"])))
            Assert.Null(tied.head);
        var e = Assert.Throws<CheckpointException>(() => ModelLoader.Load(checkpoint.Write(c => c["tie_word_embeddings"] = true)));
        Assert.Contains("'lm_head.weight' differs from 'model.embeddings.weight'", e.Message);
    }

    [Fact]
    public void MissingTensorIsNamed()
    {
        var e = Assert.Throws<CheckpointException>(() => ModelLoader.Load(checkpoint.Write(editTensors: t => t.Remove("model.layers.1.attn.A_log"))));
        Assert.Contains("'model.layers.1.attn.A_log'", e.Message);
    }

    [Fact]
    public void GateTensorsWithoutTheGateAreNamed()
    {
        var e = Assert.Throws<CheckpointException>(() => ModelLoader.Load(checkpoint.Write(c => c["use_gate"] = false)));
        Assert.Contains("model.layers.0.attn.g_proj.weight", e.Message);
    }
}
