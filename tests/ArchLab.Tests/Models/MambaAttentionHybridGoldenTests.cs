using ArchLab.Checkpoints;
using ArchLab.Inference;
using ArchLab.Tests.TestSupport;
using TorchSharp;
using Xunit.Abstractions;
using static TorchSharp.torch;

namespace ArchLab.Tests.Models;

/// <summary>
/// state-spaces/mamba's attention hybrid (<c>attn_layer_idx: [1]</c> of 3 layers: mamba_ssm's MHA with 4 query heads, 2 KV
/// heads, head_dim 16 on d_model 48, rotary on the first 8 dimensions in flash_attn's NeoX layout, biases), golden case 3
/// made by the official code (tests/golden-tools/make_mamba_case3_attn.py). The official code can only run its parallel
/// pass here (its decoding path needs flash_attn, see the script), so every ArchLab mode is checked against the official
/// parallel logits: float32 within 1e-5. The official "float64" pass is not float64 throughout: with residual_in_fp32 its
/// blocks cast the residual stream to float32, and Mamba casts A_log, D and the Δ bias with .float(); ArchLab's float64
/// logits differ from it by 1.1e-7 (measured; 2.7e-7 from the float32 ones), so float64 is held to 5e-7.
/// </summary>
public class MambaAttentionHybridGoldenTests(ITestOutputHelper output)
{
    static readonly GoldenCase Case = new("mamba", "case3_attn_hybrid");

    [Theory]
    [InlineData(DecodeMode.Parallel)]
    [InlineData(DecodeMode.Recurrent)]
    [InlineData(DecodeMode.PrefillStep)]
    [InlineData(DecodeMode.Chunked)]
    public void EveryModeMatchesTheOfficialParallelLogits(DecodeMode mode)
    {
        using var io = Case.ReadIo();
        using var model = ModelLoader.Load(Case.Dir);
        Assert.Equal(["mamba", "transformer", "mamba"], model.Config.LayerPattern!);
        Assert.Equal((4, 2, 16, 8, "neox", true, true), (model.Config.Heads, model.Config.Attention.KvHeadCount, model.Config.Attention.HeadDim,
            model.Config.RotaryDim, model.Config.RopeStyle, model.Config.QkvBias, model.Config.OutBias));
        Assert.Equal("none", model.Config.MlpOf(1)); // d_intermediate 0: no MLP after MHA either
        using var logits = LogitsRunner.Run(model, io["input_ids"], mode, prefill: 16);
        output.WriteLine($"{mode} float32 max |diff| = {TensorAssert.MaxDiff(io["logits_parallel"], logits):E2}");
        TensorAssert.Close(io["logits_parallel"], logits, 1e-5, $"{mode} float32");

        using var model64 = ModelLoader.Load(Case.Dir);
        model64.to(ScalarType.Float64);
        using var logits64 = LogitsRunner.Run(model64, io["input_ids"], mode, prefill: 16);
        output.WriteLine($"{mode} float64 max |diff| = {TensorAssert.MaxDiff(io["logits_parallel_f64"], logits64):E2}");
        TensorAssert.Close(io["logits_parallel_f64"], logits64, 5e-7, $"{mode} float64");
    }

    /// <summary>The options matter: without the biases, or with the Meta rotary layout, the logits move far from the official ones.</summary>
    [Fact]
    public void TheRotaryLayoutAndTheBiasesMatter()
    {
        using var io = Case.ReadIo();
        using var model = ModelLoader.Load(Case.Dir);
        var attention = (ArchLab.Mixers.Attention)model.blocks[1].mixer;
        using (no_grad()) attention.wq.bias!.zero_();
        using var noBias = LogitsRunner.Run(model, io["input_ids"], DecodeMode.Parallel, prefill: 16);
        Assert.True(TensorAssert.MaxDiff(io["logits_parallel"], noBias) > 1e-3);

        Assert.Equal("neox", model.Config.RopeStyle);
        var meta = model.Config with { RopeStyle = null };
        using var metaModel = new ArchLab.Models.LanguageModel(meta);
        using (var loaded = ModelLoader.Load(Case.Dir))
            metaModel.load_state_dict(loaded.state_dict());
        using var metaLogits = LogitsRunner.Run(metaModel, io["input_ids"], DecodeMode.Parallel, prefill: 16);
        Assert.True(TensorAssert.MaxDiff(io["logits_parallel"], metaLogits) > 1e-3);
    }

    /// <summary>attn_cfg options ArchLab's attention does not have are refused by name, not ignored.</summary>
    [Theory]
    [InlineData("d_conv", "4")]
    [InlineData("mlp_dim", "64")]
    [InlineData("causal", "false")]
    [InlineData("softmax_scale", "0.5")]
    [InlineData("num_heads_kv", "3")]
    [InlineData("flash", "true")]
    public void UnsupportedAttentionOptionsAreRefusedByName(string field, string value)
    {
        var config = System.Text.Json.Nodes.JsonNode.Parse(File.ReadAllText(Path.Combine(Case.Dir, "config.json")))!;
        config["attn_cfg"]![field] = System.Text.Json.Nodes.JsonNode.Parse(value);
        var e = Assert.Throws<ArchLab.Models.ConfigException>(() => new ArchLab.Checkpoints.Importers.MambaImporter().ReadConfig(
            System.Text.Json.JsonDocument.Parse(config.ToJsonString()).RootElement, "config.json"));
        Assert.Contains(field == "num_heads_kv" ? "num_heads" : field, e.Message);
    }
}
