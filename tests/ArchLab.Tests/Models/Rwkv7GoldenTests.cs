using System.Text.Json.Nodes;
using ArchLab.Checkpoints;
using ArchLab.Inference;
using ArchLab.Mixers;
using ArchLab.Models;
using ArchLab.Tests.Checkpoints;
using ArchLab.Tests.TestSupport;
using TorchSharp;
using static TorchSharp.torch;

namespace ArchLab.Tests.Models;

/// <summary>
/// BlinkDL's RWKV-7 (golden case: RWKV-LM RWKV-v7 official init, logits from rwkv_v7_demo.py GPT mode and
/// rwkv_v7_demo_fast.py RNN and sequence-with-state modes in float32, and rwkv_v7_numpy.py in float64), loaded from the
/// training checkpoint layout and run in every mode, with the chunked and the recurrent WKV.
/// </summary>
public class Rwkv7GoldenTests
{
    static readonly GoldenCase Case = new("rwkv7", "case1_d64_h16_L2");

    static LanguageModel Load(bool chunkedWkv)
    {
        var model = ModelLoader.Load(Case.Dir);
        foreach (var mixer in model.modules().OfType<Rwkv7TimeMix>()) mixer.UseChunkedWkv = chunkedWkv;
        return model;
    }

    [Theory]
    [InlineData("logits_parallel", DecodeMode.Parallel, true)]
    [InlineData("logits_parallel", DecodeMode.Parallel, false)]
    [InlineData("logits_recurrent", DecodeMode.Recurrent, true)]
    [InlineData("logits_prefill_step", DecodeMode.PrefillStep, true)]
    [InlineData("logits_prefill_step", DecodeMode.PrefillStep, false)]
    [InlineData("logits_parallel", DecodeMode.Chunked, true)]
    public void MatchesOfficialFloat32Logits(string key, DecodeMode mode, bool chunkedWkv)
    {
        using var io = Case.ReadIo();
        using var model = Load(chunkedWkv);
        Assert.Equal(Rwkv7.Name, model.Config.Arch);
        using var logits = LogitsRunner.Run(model, io["input_ids"], mode, prefill: 16, chunk: 8);
        Assert.Equal(ScalarType.Float32, logits.dtype);
        TensorAssert.Close(io[key], logits, 1e-5, $"{key} ({mode}, chunked WKV {chunkedWkv}) float32");
    }

    [Theory]
    [InlineData(DecodeMode.Recurrent, true)]
    [InlineData(DecodeMode.Parallel, true)]
    [InlineData(DecodeMode.Parallel, false)]
    [InlineData(DecodeMode.PrefillStep, true)]
    [InlineData(DecodeMode.Chunked, true)]
    public void MatchesOfficialFloat64Logits(DecodeMode mode, bool chunkedWkv)
    {
        using var io = Case.ReadIo();
        using var model = Load(chunkedWkv);
        model.to(ScalarType.Float64);
        using var logits = LogitsRunner.Run(model, io["input_ids"], mode, prefill: 16, chunk: 8);
        TensorAssert.Close(io["logits_recurrent_f64"], logits, 1e-9, $"logits_recurrent_f64 ({mode}, chunked WKV {chunkedWkv}) float64");
    }

    [Fact]
    public void ImportsTheConfigAndShapes()
    {
        using var model = ModelLoader.Load(Case.Dir, "rwkv7");
        var c = model.Config;
        Assert.Equal((64, 2, 4, 16, 256, 97, true, false), (c.Dim, c.Layers, c.Heads, c.Dim / c.Heads, c.FfnHidden, c.VocabSize, c.EmbeddingNorm, c.TiedEmbeddings));
        Assert.Equal((32, 32, 32, 32), (c.DecayLora, c.IclrLora, c.ValueLora, c.GateLora));
        Assert.Equal(["layernorm", "rwkv7_channel_mix"], new[] { c.NormOf(0), c.MlpOf(0) });
        var mixers = model.modules().OfType<Rwkv7TimeMix>().ToArray();
        Assert.Equal([true, false], mixers.Select(m => m.IsFirstLayer));
    }

    [Fact]
    public void LoadsAReleasedCheckpointWithoutTheFirstLayersValueResidual()
    {
        // Released checkpoints drop blocks.0.att.v0/v1/v2 (the first layer never reads them) and ship no config fields.
        using var checkpoint = new EditedCheckpoint(Case, "rwkv7-case-");
        string dir = checkpoint.Write(config => { foreach (var f in config.Select(p => p.Key).ToArray()) config.Remove(f); },
                                      weights => { foreach (var p in new[] { "v0", "v1", "v2" }) weights.Remove($"blocks.0.att.{p}"); });
        using var io = Case.ReadIo();
        using var model = ModelLoader.Load(dir);
        using var logits = LogitsRunner.Run(model, io["input_ids"], DecodeMode.Parallel);
        TensorAssert.Close(io["logits_parallel"], logits, 1e-5, "released layout");
    }

    [Fact]
    public void SavedInArchLabLayoutReloadsToTheSameLogits()
    {
        GoldenCheckpoint.AssertArchLabLayoutRoundTrips(Case);
    }

    [Theory]
    [InlineData("blocks.1.att.v1")]
    [InlineData("blocks.0.ln0.weight")]
    [InlineData("blocks.1.att.ln_x.bias")]
    [InlineData("blocks.0.ffn.x_k")]
    [InlineData("head.weight")]
    public void MissingTensorIsNamed(string name)
    {
        Refused<CheckpointException>($"missing tensor '{name}'", weights => weights.Remove(name));
    }

    [Theory]
    [InlineData("blocks.0.att.x_w", new long[] { 1, 1, 63 })]
    [InlineData("blocks.1.att.w2", new long[] { 32, 65 })]
    [InlineData("blocks.1.att.r_k", new long[] { 4, 15 })]
    public void WrongShapeIsNamed(string name, long[] shape)
    {
        Refused<CheckpointException>($"'{name}' has shape [{string.Join(", ", shape)}]", weights => weights[name] = zeros(shape));
    }

    [Fact]
    public void HeadSizeThatDoesNotDivideTheWidthIsRefused()
    {
        Refused<CheckpointException>("'blocks.0.att.r_k' is [3, 16]", weights => weights["blocks.0.att.r_k"] = zeros(3, 16));
    }

    [Fact]
    public void UnexpectedTensorIsNamed()
    {
        Refused<CheckpointException>("blocks.1.ln0.weight", weights => weights["blocks.1.ln0.weight"] = zeros(64));
    }

    [Theory]
    [InlineData("n_head", "4", "unknown config field 'n_head'")]
    [InlineData("D_DECAY_LORA", "64", "'D_DECAY_LORA' = 64 disagrees with the weights (32)")]
    [InlineData("head_size_a", "64", "'head_size_a' = 64 disagrees")]
    [InlineData("dim_att", "128", "'dim_att' = 128 is not supported")]
    [InlineData("my_testing", "\"x060\"", "'my_testing'")]
    [InlineData("n_embd", "\"wide\"", "'n_embd'")]
    public void BadConfigFieldIsNamed(string field, string json, string message)
    {
        Refused<ConfigException>(message, config: c => c[field] = JsonNode.Parse(json));
    }

    /// <summary>Loading the case as rwkv7 with its weights and/or config changed throws a <typeparamref name="T"/> whose
    /// message contains <paramref name="expected"/>.</summary>
    static void Refused<T>(string expected, Action<Dictionary<string, Tensor>>? weights = null, Action<JsonObject>? config = null)
        where T : Exception => GoldenCheckpoint.AssertLoadFails<T>(Case, "rwkv7", expected, weights, config);
}
