using ArchLab.Engine;
using ArchLab.Models;
using ArchLab.Tests.TestSupport;
using TorchSharp;
using static TorchSharp.torch;

namespace ArchLab.Tests.Engine;

/// <summary>The lean engine's Gated DeltaNet against the TorchSharp step (float32, 1e-5), after a TorchSharp prefill, and
/// against flash-linear-attention's golden recurrent logits.</summary>
public class LeanGatedDeltaNetTests
{
    /// <summary>A small random Gated DeltaNet model, perturbed so that decays, β, convs and norms all matter.</summary>
    static LanguageModel TinyModel(bool grouped, bool gate, bool conv, bool negative)
    {
        torch.manual_seed(11);
        var config = new ModelConfig
        {
            Arch = "gated_deltanet", VocabSize = 61, Dim = 32, Layers = 2, Heads = 2, KeyHeadDim = 8, ValueHeads = grouped ? 4 : 2,
            ValueExpand = grouped ? 1.5 : 2, OutputGate = gate, ShortConv = conv, NegativeEigenvalues = negative, DConv = 3,
        };
        var model = new LanguageModel(config);
        using (no_grad())
            foreach (var (name, p) in model.named_parameters())
                if (name.Contains(".mixer.")) p.add_(randn(p.shape) * 0.2);
        model.eval();
        return model;
    }

    [Theory]
    [InlineData(true, true, true, false)]
    [InlineData(false, false, false, true)]
    [InlineData(true, false, true, true)]
    public void Float32LogitsEqualTheTorchStep(bool grouped, bool gate, bool conv, bool negative)
    {
        using var model = TinyModel(grouped, gate, conv, negative);
        using var lean = LeanModel.From(model);
        const int batch = 3, steps = 96;
        using var torchState = model.AllocateState(batch, steps);
        var leanState = lean.AllocateState(batch, steps);
        double worst = LeanVersusTorch.StepBoth(model, lean, torchState, leanState, batch, steps, 1);
        Assert.True(worst <= 1e-5, $"max |logit difference| {worst:E2} over {steps} steps");
    }

    [Fact]
    public void StateHandedOverAfterATorchPrefillContinuesExactly()
    {
        using var model = TinyModel(grouped: true, gate: true, conv: true, negative: false);
        using var lean = LeanModel.From(model);
        const int batch = 2, prefill = 40, steps = 24;
        using var torchState = model.AllocateState(batch, prefill + steps);
        var leanState = LeanVersusTorch.HandOverAfterPrefill(model, lean, torchState, batch, prefill, prefill + steps);
        double worst = LeanVersusTorch.StepBoth(model, lean, torchState, leanState, batch, steps, 2);
        Assert.True(worst <= 1e-5, $"max |logit difference| {worst:E2} after a handed-over prefill");
    }

    [Fact]
    public void MatchesOfficialRecurrentLogits()
    {
        double worst = LeanVersusTorch.WorstVersusOfficialRecurrentLogits(new GoldenCase("gated_deltanet", "case1_d48_h2_v4_ev1.5_gate"));
        Assert.True(worst <= 1e-5, $"max |logit difference| to the official recurrent logits {worst:E2}");
    }
}
