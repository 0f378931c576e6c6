using ArchLab.Checkpoints;
using ArchLab.Inference;
using ArchLab.Kernels;
using ArchLab.Models;
using System.Text.Json.Nodes;
using ArchLab.Tests.TestSupport;
using TorchSharp;
using static TorchSharp.torch;

namespace ArchLab.Tests.Models;

/// <summary>
/// BlinkDL's RWKV-4 (golden case: RWKV-LM weights run by the ChatRWKV runner in float32, RWKV-LM's RWKV_RNN in float64)
/// reproduced from the raw training checkpoint in every stored mode, plus the modes the official code has no file for.
/// </summary>
public class Rwkv4GoldenTests
{
    static readonly GoldenCase Case = new("rwkv4", "case1_d32_L2_ffn128");

    [Theory]
    [InlineData("logits_parallel", DecodeMode.Parallel, ScanBackend.Reference)]
    [InlineData("logits_parallel", DecodeMode.Parallel, ScanBackend.Cpu)]
    [InlineData("logits_parallel", DecodeMode.Parallel, ScanBackend.Ilgpu)]
    [InlineData("logits_recurrent", DecodeMode.PrefillStep, ScanBackend.Ilgpu)]
    [InlineData("logits_recurrent", DecodeMode.Chunked, ScanBackend.Ilgpu)]
    [InlineData("logits_recurrent", DecodeMode.Recurrent, ScanBackend.Cpu)]
    [InlineData("logits_recurrent", DecodeMode.PrefillStep, ScanBackend.Reference)]
    [InlineData("logits_recurrent", DecodeMode.PrefillStep, ScanBackend.Cpu)]
    [InlineData("logits_recurrent", DecodeMode.Chunked, ScanBackend.Reference)]
    [InlineData("logits_recurrent", DecodeMode.Chunked, ScanBackend.Cpu)]
    public void MatchesOfficialFloat32Logits(string key, DecodeMode mode, ScanBackend backend)
    {
        using var io = Case.ReadIo();
        using var model = ModelLoader.Load(Case.Dir).WithScanBackend(backend);
        Assert.Equal("rwkv4", model.Config.Arch);
        using var logits = LogitsRunner.Run(model, io["input_ids"], mode, prefill: 16, chunk: 8);
        Assert.Equal(ScalarType.Float32, logits.dtype);
        TensorAssert.Close(io[key], logits, 1e-5, $"{key} ({mode}) float32");
    }

    [Theory]
    [InlineData(DecodeMode.Recurrent, ScanBackend.Cpu)]
    [InlineData(DecodeMode.Parallel, ScanBackend.Reference)]
    [InlineData(DecodeMode.Parallel, ScanBackend.Cpu)]
    [InlineData(DecodeMode.Parallel, ScanBackend.Ilgpu)]
    [InlineData(DecodeMode.PrefillStep, ScanBackend.Reference)]
    [InlineData(DecodeMode.PrefillStep, ScanBackend.Cpu)]
    [InlineData(DecodeMode.Chunked, ScanBackend.Reference)]
    [InlineData(DecodeMode.Chunked, ScanBackend.Cpu)]
    public void MatchesOfficialFloat64Logits(DecodeMode mode, ScanBackend backend)
    {
        using var io = Case.ReadIo();
        using var model = ModelLoader.Load(Case.Dir, "rwkv4").WithScanBackend(backend);
        model.to(ScalarType.Float64);
        using var logits = LogitsRunner.Run(model, io["input_ids"], mode, prefill: 16, chunk: 8);
        TensorAssert.Close(io["logits_recurrent_f64"], logits, 1e-9, $"logits_recurrent_f64 ({mode}) float64");
    }

    [Fact]
    public void ImportsTheConfigFields()
    {
        using var model = ModelLoader.Load(Case.Dir, "rwkv4");
        var c = model.Config;
        Assert.Equal((32, 2, 32, 128, 97, 64, 1e-5, true, false),
                     (c.Dim, c.Layers, c.Rwkv.DimAttention, c.FfnHidden, c.VocabSize, c.ContextLength, c.NormEps, c.EmbeddingNorm, c.TiedEmbeddings));
        Assert.Equal(["layernorm", "rwkv_channel_mix"], new[] { c.NormOf(0), c.MlpOf(0) });
    }

    [Fact]
    public void SavedInArchLabLayoutReloadsToTheSameLogits()
    {
        GoldenCheckpoint.AssertArchLabLayoutRoundTrips(Case);
    }

    [Theory]
    [InlineData("blocks.1.att.time_first")]
    [InlineData("blocks.0.ln0.weight")]
    [InlineData("blocks.1.ffn.value.weight")]
    [InlineData("head.weight")]
    public void MissingTensorIsNamed(string name)
    {
        Refused<CheckpointException>($"missing tensor '{name}'", weights => weights.Remove(name));
    }

    [Theory]
    [InlineData("blocks.0.att.time_mix_v", new long[] { 1, 1, 31 })]
    [InlineData("blocks.1.att.key.weight", new long[] { 32, 33 })]
    [InlineData("ln_out.bias", new long[] { 16 })]
    public void WrongShapeIsNamed(string name, long[] shape)
    {
        Refused<CheckpointException>($"'{name}' has shape [{string.Join(", ", shape)}]", weights => weights[name] = zeros(shape));
    }

    [Fact]
    public void UnexpectedTensorIsNamed()
    {
        Refused<CheckpointException>("blocks.1.ln0.weight", weights => weights["blocks.1.ln0.weight"] = zeros(32));
    }

    [Theory]
    [InlineData("n_head", "1", "unknown config field 'n_head'")]
    [InlineData("head_qk", "64", "'head_qk'")]
    [InlineData("pre_ffn", "1", "'pre_ffn'")]
    [InlineData("model_type", "\"RWKV-5\"", "'model_type'")]
    [InlineData("n_embd", "\"wide\"", "'n_embd'")]
    public void BadConfigFieldIsNamed(string field, string json, string message)
    {
        Refused<ConfigException>(message, config: c => c[field] = JsonNode.Parse(json));
    }

    [Fact]
    public void MissingConfigFieldIsNamed()
    {
        Refused<ConfigException>("'n_layer'", config: c => c.Remove("n_layer"));
    }

    /// <summary>Loading the case as rwkv4 with its weights and/or config changed throws a <typeparamref name="T"/> whose
    /// message contains <paramref name="expected"/>.</summary>
    static void Refused<T>(string expected, Action<Dictionary<string, Tensor>>? weights = null, Action<JsonObject>? config = null)
        where T : Exception => GoldenCheckpoint.AssertLoadFails<T>(Case, "rwkv4", expected, weights, config);
}
