using ArchLab.Checkpoints;
using ArchLab.Inference;
using ArchLab.Tests.TestSupport;
using TorchSharp;
using Xunit.Abstractions;
using static TorchSharp.torch;

namespace ArchLab.Tests.Models;

/// <summary>
/// state-spaces/mamba's MambaLMHeadModel with Mamba2 layers (ngroups 2, headdim 16, chunk 16, untied head, vocabulary 97
/// padded to 104), golden case made by the official code on CPU (tests/golden-tools/make_mamba2_case.py; its meta.json
/// lists the pure-PyTorch references it ran: ssd_minimal_discrete, selective_state_update_ref, rms_norm_ref). Every official
/// mode in float32 (1e-5) and float64 (1e-9; the official run kept every upcast in float64).
/// </summary>
public class Mamba2GoldenTests(ITestOutputHelper output)
{
    static readonly GoldenCase Case = new("mamba2", "case1_d48_h6_g2_chunk16");

    [Theory]
    [InlineData("logits_parallel", DecodeMode.Parallel, 16)]
    [InlineData("logits_recurrent", DecodeMode.Recurrent, 16)]
    [InlineData("logits_prefill_step", DecodeMode.PrefillStep, 16)]
    [InlineData("logits_prefill21_step", DecodeMode.PrefillStep, 21)] // the prompt's final state comes through a padded chunk
    public void MatchesOfficialLogits(string key, DecodeMode mode, int prefill)
    {
        using var io = Case.ReadIo();
        var ids = io["input_ids"];

        using var model32 = ModelLoader.Load(Case.Dir);
        Assert.Equal(("mamba2", 104, false), (model32.Config.Arch, model32.Config.VocabSize, model32.Config.TiedEmbeddings));
        Assert.Equal((16, 2, 16, 8), (model32.Config.SsmHeadDim, model32.Config.SsmGroups, model32.Config.SsmChunkSize, model32.Config.DState));
        using var logits32 = LogitsRunner.Run(model32, ids, mode, prefill: prefill);
        Assert.Equal(ScalarType.Float32, logits32.dtype);
        output.WriteLine($"{key} float32 max |diff| = {TensorAssert.MaxDiff(io[key], logits32):E2}");
        TensorAssert.Close(io[key], logits32, 1e-5, $"{key} float32");

        using var model64 = ModelLoader.Load(Case.Dir, "mamba2");
        model64.to(ScalarType.Float64);
        using var logits64 = LogitsRunner.Run(model64, ids, mode, prefill: prefill);
        output.WriteLine($"{key} float64 max |diff| = {TensorAssert.MaxDiff(io[key + "_f64"], logits64):E2}");
        TensorAssert.Close(io[key + "_f64"], logits64, 1e-9, $"{key} float64");
    }

    /// <summary>ArchLab's chunked decoding (calls of 5 and 8 tokens carrying the state; the official code has no such mode)
    /// gives the official parallel logits; so do other SSD chunk lengths than the checkpoint's.</summary>
    [Fact]
    public void ChunkedDecodingAndOtherChunkLengthsMatchOfficialParallelLogits()
    {
        using var io = Case.ReadIo();
        foreach (int ssdChunk in new[] { 16, 5, 64 })
        {
            using var official = ModelLoader.Load(Case.Dir);
            using var model = new ArchLab.Models.LanguageModel(official.Config with { SsmChunkSize = ssdChunk });
            model.load_state_dict(official.state_dict());
            model.to(ScalarType.Float64);
            foreach (int chunk in new[] { 5, 8 })
            {
                using var logits = LogitsRunner.Run(model, io["input_ids"], DecodeMode.Chunked, chunk: chunk);
                TensorAssert.Close(io["logits_parallel_f64"], logits, 1e-9, $"SSD chunk {ssdChunk}, calls of {chunk} float64");
            }
        }
    }

    /// <summary>The gate's place matters: the same weights with the gate after the norm (norm_before_gate) give logits
    /// far from the official ones, so the golden check tells the two apart.</summary>
    [Fact]
    public void GateOrderIsNotInterchangeable()
    {
        using var io = Case.ReadIo();
        using var official = ModelLoader.Load(Case.Dir);
        using var swapped = new ArchLab.Models.LanguageModel(official.Config with { NormBeforeGate = true });
        swapped.load_state_dict(official.state_dict());
        using var logits = LogitsRunner.Run(swapped, io["input_ids"], DecodeMode.Parallel);
        Assert.True(TensorAssert.MaxDiff(io["logits_parallel"], logits) > 1e-3, "norm_before_gate changes the logits");
    }
}
