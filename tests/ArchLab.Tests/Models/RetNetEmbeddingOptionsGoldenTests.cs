using ArchLab.Checkpoints;
using ArchLab.Inference;
using ArchLab.Models;
using ArchLab.Tests.TestSupport;
using Xunit.Abstractions;
using static TorchSharp.torch;

namespace ArchLab.Tests.Models;

/// <summary>
/// torchscale's RetNetDecoder embedding options against golden cases made by the official code
/// (tests/golden-tools/make_retnet_case2.py): case 2 has <c>layernorm_embedding: true</c> (an RMSNorm after the embedding)
/// and <c>no_scale_embedding: false</c>; case 3 has the √48 scale alone, where it is visible (behind case 2's RMSNorm it
/// cancels up to eps). The importer's embedding norm and folded scale give the official float32 logits in all three
/// official modes (1e-5).
/// </summary>
public class RetNetEmbeddingOptionsGoldenTests(ITestOutputHelper output)
{
    static readonly GoldenCase WithNorm = new("retnet", "case2_d48_lnemb_scaled"), ScaleOnly = new("retnet", "case3_d48_scaled");

    [Theory]
    [InlineData("case2_d48_lnemb_scaled", "logits_parallel_f32", DecodeMode.Parallel)]
    [InlineData("case2_d48_lnemb_scaled", "logits_recurrent_f32", DecodeMode.Recurrent)]
    [InlineData("case2_d48_lnemb_scaled", "logits_chunkwise_f32", DecodeMode.Chunked)]
    [InlineData("case3_d48_scaled", "logits_parallel_f32", DecodeMode.Parallel)]
    [InlineData("case3_d48_scaled", "logits_recurrent_f32", DecodeMode.Recurrent)]
    [InlineData("case3_d48_scaled", "logits_chunkwise_f32", DecodeMode.Chunked)]
    public void MatchesOfficialLogits(string caseName, string key, DecodeMode mode)
    {
        var golden = new GoldenCase("retnet", caseName);
        using var io = golden.ReadIo();
        using var model = ModelLoader.Load(golden.Dir);
        Assert.Equal(caseName.Contains("lnemb"), model.embed_norm is not null);
        using var logits = LogitsRunner.Run(model, io["input_ids"], mode, prefill: 16, chunk: 8);
        output.WriteLine($"{caseName} {key} max |diff| = {TensorAssert.MaxDiff(io[key], logits):E2}");
        TensorAssert.Close(io[key], logits, 1e-5, key);
    }

    /// <summary>Each option is visible in its case, so matching is a real check of it.</summary>
    [Fact]
    public void EachOptionChangesTheLogits()
    {
        double Diff(GoldenCase golden, Action<LanguageModel> undo)
        {
            using var io = golden.ReadIo();
            using var model = ModelLoader.Load(golden.Dir);
            using (no_grad()) undo(model);
            using var logits = LogitsRunner.Run(model, io["input_ids"], DecodeMode.Parallel, prefill: 16, chunk: 8);
            return TensorAssert.MaxDiff(io["logits_parallel_f32"], logits);
        }
        Assert.True(Diff(ScaleOnly, m => m.embed.weight!.div_(Math.Sqrt(48))) > 1e-3, "the √dim scale");
        Assert.True(Diff(WithNorm, m => m.embed_norm!.parameters().Single().fill_(1)) > 1e-3, "the embedding norm's weight");
    }
}
