using ArchLab.Engine;
using ArchLab.Models;
using ArchLab.Tests.TestSupport;
using TorchSharp;
using static TorchSharp.torch;

namespace ArchLab.Tests.Engine;

/// <summary>The lean engine's Mamba-2 layer against the TorchSharp step (float32, 1e-5): from a fresh state, after a
/// state handed over from a TorchSharp prefill, and against the official golden recurrent logits.</summary>
public class LeanMamba2Tests
{
    /// <summary>Two groups, the gate before and after the norm, with and without biases; heads of 16 channels (whole
    /// vectors) or 12 (a partial one).</summary>
    static LanguageModel TinyModel(bool normBeforeGate, int headDim = 16)
    {
        torch.manual_seed(11);
        var model = new LanguageModel(new ModelConfig
        {
            Arch = "mamba2", VocabSize = 61, Dim = 2 * headDim, Layers = 2, Heads = 1, DState = 8, DConv = 3, SsmHeadDim = headDim, SsmGroups = 2,
            SsmChunkSize = 8, NormBeforeGate = normBeforeGate, ProjBias = normBeforeGate, ConvBias = !normBeforeGate,
        });
        using (no_grad())
            foreach (var (name, p) in model.named_parameters())
                if (name.Contains(".mixer.")) p.add_(randn(p.shape) * (name.EndsWith("dt_bias") ? 1.0 : 0.1));
        model.eval();
        return model;
    }

    [Theory]
    [InlineData(false, 16)]
    [InlineData(true, 16)]
    [InlineData(false, 12)]
    public void Float32LogitsEqualTheTorchStepFor200Steps(bool normBeforeGate, int headDim)
    {
        using var model = TinyModel(normBeforeGate, headDim);
        using var lean = LeanModel.From(model);
        using var torchState = model.AllocateState(3, 200);
        var leanState = lean.AllocateState(3, 200);
        double worst = LeanVersusTorch.StepBoth(model, lean, torchState, leanState, 3, 200, 1);
        Assert.True(worst <= 1e-5, $"max |logit difference| {worst:E2} over 200 steps");
    }

    [Fact]
    public void StateHandedOverAfterATorchPrefillContinuesExactly()
    {
        using var model = TinyModel(false);
        using var lean = LeanModel.From(model);
        using var torchState = model.AllocateState(2, 64);
        var leanState = LeanVersusTorch.HandOverAfterPrefill(model, lean, torchState, 2, 40, 64);
        Assert.Equal(40, leanState.Position);
        double worst = LeanVersusTorch.StepBoth(model, lean, torchState, leanState, 2, 24, 2);
        Assert.True(worst <= 1e-5, $"max |logit difference| {worst:E2} after a handed-over prefill");
    }

    [Fact]
    public void MatchesOfficialRecurrentLogits()
    {
        double worst = LeanVersusTorch.WorstVersusOfficialRecurrentLogits(new GoldenCase("mamba2", "case1_d48_h6_g2_chunk16"));
        Assert.True(worst <= 1e-5, $"max |logit difference| to the official recurrent logits {worst:E2}");
    }
}
