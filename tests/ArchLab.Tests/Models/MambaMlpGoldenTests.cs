using ArchLab.Checkpoints;
using ArchLab.Inference;
using ArchLab.Kernels;
using ArchLab.Tests.TestSupport;
using Xunit.Abstractions;
using static TorchSharp.torch;

namespace ArchLab.Tests.Models;

/// <summary>
/// state-spaces/mamba with <c>d_intermediate: 100</c> (a GatedMLP of width 128 after each mixer, behind norm2), golden case 2
/// made by the official code (tests/golden-tools/make_mamba_case2.py): the importer's SwiGLU mapping gives the official
/// float32 logits in parallel and recurrent (Mamba.step) modes (1e-5).
/// </summary>
public class MambaMlpGoldenTests(ITestOutputHelper output)
{
    static readonly GoldenCase Case = new("mamba", "case2_d48_mlp");

    [Theory]
    [InlineData("logits_parallel", DecodeMode.Parallel, ScanBackend.Reference)]
    [InlineData("logits_parallel", DecodeMode.Parallel, ScanBackend.Cpu)]
    [InlineData("logits_recurrent", DecodeMode.Recurrent, ScanBackend.Cpu)]
    [InlineData("logits_recurrent", DecodeMode.PrefillStep, ScanBackend.Cpu)]
    public void MatchesOfficialLogits(string key, DecodeMode mode, ScanBackend backend)
    {
        using var io = Case.ReadIo();
        using var model = ModelLoader.Load(Case.Dir).WithScanBackend(backend);
        Assert.Equal(("swiglu", 128), (model.Config.MlpOf(0), model.Config.FfnHiddenSize));
        using var logits = LogitsRunner.Run(model, io["input_ids"], mode, prefill: 16);
        output.WriteLine($"{key} ({mode}) max |diff| = {TensorAssert.MaxDiff(io[key], logits):E2}");
        TensorAssert.Close(io[key], logits, 1e-5, $"{key} ({mode})");
    }

    /// <summary>The MLP matters: swapping its value and gate halves moves the logits far from the official ones.</summary>
    [Fact]
    public void TheMlpHalvesAreNotInterchangeable()
    {
        using var io = Case.ReadIo();
        using var model = ModelLoader.Load(Case.Dir);
        using (no_grad())
            foreach (var block in model.blocks)
            {
                var mlp = (ArchLab.Models.SwiGluMlp)block.mlp!;
                using var w1 = mlp.w1.weight.clone();
                mlp.w1.weight.copy_(mlp.w3.weight);
                mlp.w3.weight.copy_(w1);
            }
        using var logits = LogitsRunner.Run(model, io["input_ids"], DecodeMode.Parallel, prefill: 16);
        Assert.True(TensorAssert.MaxDiff(io["logits_parallel"], logits) > 1e-3);
    }
}
