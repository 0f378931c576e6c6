using ArchLab.Checkpoints;
using ArchLab.Inference;
using ArchLab.Mixers;
using ArchLab.Models;
using ArchLab.Tests.TestSupport;
using TorchSharp;
using static TorchSharp.torch;

namespace ArchLab.Tests.Models;

/// <summary>flash-linear-attention's GatedDeltaNetForCausalLM logits (its naive chunk and recurrent kernels with the layer
/// around them; tests/golden-tools/make_gated_deltanet_case.py) reproduced in every official mode, float32 and float64.
/// Case 1 has grouped value heads (4 over 2), expand_v 1.5, the output gate, short convolutions and an untied head.</summary>
public class GatedDeltaNetGoldenTests
{
    const double Float32Tolerance = 1e-5, Float64Tolerance = 1e-9;

    static readonly GoldenCase Case = new("gated_deltanet", "case1_d48_h2_v4_ev1.5_gate");

    static LanguageModel Load(GatedDeltaRuleForm form, int chunk)
    {
        var model = ModelLoader.Load(Case.Dir);
        foreach (var block in model.blocks)
        {
            var mixer = Assert.IsType<GatedDeltaNet>(block.Mixer);
            mixer.Form = form;
            mixer.ChunkSize = chunk;
        }
        return model;
    }

    [Theory]
    [InlineData("logits_chunk", DecodeMode.Parallel, GatedDeltaRuleForm.Chunked, 64)]
    [InlineData("logits_chunk16", DecodeMode.Parallel, GatedDeltaRuleForm.Chunked, 16)]
    [InlineData("logits_fused_recurrent", DecodeMode.Parallel, GatedDeltaRuleForm.Recurrent, 64)]
    [InlineData("logits_recurrent", DecodeMode.Recurrent, GatedDeltaRuleForm.Chunked, 64)]
    [InlineData("logits_prefill_step", DecodeMode.PrefillStep, GatedDeltaRuleForm.Recurrent, 64)]
    [InlineData("logits_prefill_step", DecodeMode.PrefillStep, GatedDeltaRuleForm.Chunked, 16)]
    public void MatchesOfficialLogits(string key, DecodeMode mode, GatedDeltaRuleForm form, int chunk)
    {
        using var io = Case.ReadIo();
        var ids = io["input_ids"];

        using var model32 = Load(form, chunk);
        Assert.Equal("gated_deltanet", model32.Config.Arch);
        Assert.Equal(4, model32.Config.ValueHeads);
        using var logits32 = LogitsRunner.Run(model32, ids, mode, prefill: 16);
        Assert.Equal(ScalarType.Float32, logits32.dtype);
        TensorAssert.Close(io[key], logits32, Float32Tolerance, $"{key} float32");

        using var model64 = Load(form, chunk);
        model64.to(ScalarType.Float64);
        using var logits64 = LogitsRunner.Run(model64, ids, mode, prefill: 16);
        TensorAssert.Close(io[key + "_f64"], logits64, Float64Tolerance, $"{key} float64");
    }

    [Fact]
    public void ChunkedDecodingMatchesOfficialLogits()
    {
        using var io = Case.ReadIo();
        using var model = Load(GatedDeltaRuleForm.Chunked, 4);
        model.to(ScalarType.Float64);
        foreach (int chunk in new[] { 5, 8 })
        {
            using var logits = LogitsRunner.Run(model, io["input_ids"], DecodeMode.Chunked, chunk: chunk);
            TensorAssert.Close(io["logits_chunk_f64"], logits, Float64Tolerance, $"chunked decoding ({chunk}) float64");
        }
    }
}
