using ArchLab.Checkpoints;
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
    /// <summary>Two groups, the gate before and after the norm, with and without biases.</summary>
    static LanguageModel TinyModel(bool normBeforeGate)
    {
        torch.manual_seed(11);
        var model = new LanguageModel(new ModelConfig
        {
            Arch = "mamba2", VocabSize = 61, Dim = 32, Layers = 2, Heads = 1, DState = 8, DConv = 3, SsmHeadDim = 16, SsmGroups = 2,
            SsmChunkSize = 8, NormBeforeGate = normBeforeGate, ProjBias = normBeforeGate, ConvBias = !normBeforeGate,
        });
        using (no_grad())
            foreach (var (name, p) in model.named_parameters())
                if (name.Contains(".mixer.")) p.add_(randn(p.shape) * (name.EndsWith("dt_bias") ? 1.0 : 0.1));
        model.eval();
        return model;
    }

    static double StepBoth(LanguageModel model, LeanModel lean, ModelState torchState, LeanState leanState, int batch, int steps, int seed)
    {
        var random = new Random(seed);
        double worst = 0;
        using var noGrad = no_grad();
        for (int t = 0; t < steps; t++)
        {
            using var scope = NewDisposeScope();
            var step = Enumerable.Range(0, batch).Select(_ => random.Next(model.Config.VocabSize)).ToArray();
            var expected = model.Step(tensor(step.Select(i => (long)i).ToArray()), torchState).data<float>().ToArray();
            var actual = lean.Step(step, leanState);
            for (int i = 0; i < expected.Length; i++) worst = Math.Max(worst, Math.Abs(expected[i] - actual[i]));
        }
        return worst;
    }

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public void Float32LogitsEqualTheTorchStepFor200Steps(bool normBeforeGate)
    {
        using var model = TinyModel(normBeforeGate);
        using var lean = LeanModel.From(model);
        using var torchState = model.AllocateState(3, 200);
        var leanState = lean.AllocateState(3, 200);
        double worst = StepBoth(model, lean, torchState, leanState, 3, 200, 1);
        Assert.True(worst <= 1e-5, $"max |logit difference| {worst:E2} over 200 steps");
    }

    [Fact]
    public void StateHandedOverAfterATorchPrefillContinuesExactly()
    {
        using var model = TinyModel(false);
        using var lean = LeanModel.From(model);
        using var torchState = model.AllocateState(2, 64);
        using (no_grad())
        using (var ids = randint(0, model.Config.VocabSize, [2, 40]))
            model.Forward(ids, torchState).Dispose();
        var leanState = lean.AllocateState(2, 64);
        lean.ImportState(torchState, leanState);
        Assert.Equal(40, leanState.Position);
        double worst = StepBoth(model, lean, torchState, leanState, 2, 24, 2);
        Assert.True(worst <= 1e-5, $"max |logit difference| {worst:E2} after a handed-over prefill");
    }

    [Fact]
    public void MatchesOfficialRecurrentLogits()
    {
        var golden = new GoldenCase("mamba2", "case1_d48_h6_g2_chunk16");
        using var io = golden.ReadIo();
        using var model = ModelLoader.Load(golden.Dir);
        model.eval();
        using var lean = LeanModel.From(model);
        var ids = io["input_ids"];
        int batch = (int)ids.shape[0], time = (int)ids.shape[1], vocab = model.Config.VocabSize;
        var tokens = ids.data<long>().ToArray();
        var expected = io["logits_recurrent"].data<float>().ToArray();
        var state = lean.AllocateState(batch, time);
        double worst = 0;
        for (int t = 0; t < time; t++)
        {
            var logits = lean.Step(Enumerable.Range(0, batch).Select(b => (int)tokens[b * time + t]).ToArray(), state);
            for (int b = 0; b < batch; b++)
                for (int v = 0; v < vocab; v++)
                    worst = Math.Max(worst, Math.Abs(logits[b * vocab + v] - expected[(b * time + t) * vocab + v]));
        }
        Assert.True(worst <= 1e-5, $"max |logit difference| to the official recurrent logits {worst:E2}");
    }
}
