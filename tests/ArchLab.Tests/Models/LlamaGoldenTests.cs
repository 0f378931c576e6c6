using ArchLab.Checkpoints;
using ArchLab.Inference;
using ArchLab.Tests.TestSupport;
using TorchSharp;
using static TorchSharp.torch;

namespace ArchLab.Tests.Models;

/// <summary>Meta's llama/model.py logits (golden case) reproduced in every decode mode, in float64 and float32.</summary>
public class LlamaGoldenTests
{
    static readonly GoldenCase Case = new("llama", "case1_d64_h4_mha");

    [Theory]
    [InlineData("parallel", "logits_parallel", DecodeMode.Parallel)]
    [InlineData("recurrent", "logits_recurrent", DecodeMode.Recurrent)]
    [InlineData("prefill_step", "logits_prefill_step", DecodeMode.PrefillStep)]
    [InlineData("chunked", "logits_chunked_kvcache", DecodeMode.Chunked)]
    public void MatchesOfficialLogits(string _, string key, DecodeMode mode)
    {
        using var io = Case.ReadIo();
        var ids = io["input_ids"];

        using var model64 = ModelLoader.Load(Case.Dir);
        model64.to(ScalarType.Float64);
        using var logits64 = LogitsRunner.Run(model64, ids, mode, prefill: 16, chunk: 8);
        TensorAssert.Close(io[key], logits64, 1e-9, $"{key} float64");

        using var model32 = ModelLoader.Load(Case.Dir, "llama");
        using var logits32 = LogitsRunner.Run(model32, ids, mode, prefill: 16, chunk: 8);
        Assert.Equal(ScalarType.Float32, logits32.dtype);
        TensorAssert.Close(io[key + "_f32"], logits32, 1e-5, $"{key} float32");
    }
}
