using ArchLab.Checkpoints;
using ArchLab.Inference;
using ArchLab.Mixers;
using ArchLab.Tests.TestSupport;
using TorchSharp;
using Xunit.Abstractions;
using static TorchSharp.torch;

namespace ArchLab.Tests.Models;

/// <summary>
/// torchscale RetNetDecoder logits (golden case) in its three official forms, each against the same form here, in float64
/// (1e-9) and float32 (1e-5): parallel = RetNetDecoder(ids) ↔ Parallel; recurrent = incremental_state ↔ Recurrent (Step);
/// chunkwise = chunkwise_recurrent with recurrent_chunk_size 8 ↔ Chunked with chunks of 8 (Forward with a state).
/// </summary>
public class RetNetGoldenTests(ITestOutputHelper output)
{
    static readonly GoldenCase Case = new("retnet", "case1_d48_h3_v96_swish");

    [Theory]
    [InlineData("parallel", "logits_parallel", DecodeMode.Parallel)]
    [InlineData("recurrent", "logits_recurrent", DecodeMode.Recurrent)]
    [InlineData("chunkwise", "logits_chunkwise", DecodeMode.Chunked)]
    public void MatchesOfficialLogits(string _, string key, DecodeMode mode)
    {
        using var io = Case.ReadIo();
        var ids = io["input_ids"];

        using var model64 = ModelLoader.Load(Case.Dir);
        Assert.Equal("retnet", model64.Config.Arch);
        model64.to(ScalarType.Float64);
        using var logits64 = LogitsRunner.Run(model64, ids, mode, prefill: 16, chunk: 8);
        output.WriteLine($"{key} float64 max |diff| = {TensorAssert.MaxDiff(io[key], logits64):E2}");
        TensorAssert.Close(io[key], logits64, 1e-9, $"{key} float64");

        using var model32 = ModelLoader.Load(Case.Dir, "retnet");
        using var logits32 = LogitsRunner.Run(model32, ids, mode, prefill: 16, chunk: 8);
        Assert.Equal(ScalarType.Float32, logits32.dtype);
        output.WriteLine($"{key} float32 max |diff| = {TensorAssert.MaxDiff(io[key + "_f32"], logits32):E2}");
        TensorAssert.Close(io[key + "_f32"], logits32, 1e-5, $"{key} float32");
    }

    /// <summary>The official modes really are different functions here (meta.json: chunkwise differs by 2.7e-2), so matching
    /// each one separately is a real check of each formula.</summary>
    [Fact]
    public void OfficialChunkwiseDiffersFromParallel()
    {
        using var io = Case.ReadIo();
        Assert.True(TensorAssert.MaxDiff(io["logits_parallel"], io["logits_chunkwise"]) > 1e-2);
    }

    [Fact]
    public void DecayAndAngleTablesEqualTheStoredBuffers()
    {
        using var weights = Safetensors.Read(Path.Combine(Case.Dir, "model.safetensors"));
        var (logDecay, angle) = Retention.Tables(heads: 3, keyDim: 16);
        Assert.Equal(weights.Tensors["retnet_rel_pos.decay"].data<float>().ToArray(), logDecay);
        Assert.Equal(weights.Tensors["retnet_rel_pos.angle"].data<float>().ToArray(), angle);
    }
}
