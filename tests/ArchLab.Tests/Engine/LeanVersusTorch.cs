using ArchLab.Checkpoints;
using ArchLab.Engine;
using ArchLab.Models;
using ArchLab.Tests.TestSupport;
using static TorchSharp.torch;

namespace ArchLab.Tests.Engine;

/// <summary>Runs the lean engine next to the TorchSharp model (or an official golden case) and measures how far the logits are apart.</summary>
static class LeanVersusTorch
{
    /// <summary>Steps both on the same random tokens (from <paramref name="seed"/>); the largest |logit difference|.</summary>
    public static double StepBoth(LanguageModel model, LeanModel lean, ModelState torchState, LeanState leanState, int batch, int steps, int seed)
    {
        var random = new Random(seed);
        double worst = 0;
        using var noGrad = no_grad();
        for (int t = 0; t < steps; t++)
        {
            using var scope = NewDisposeScope();
            var step = Enumerable.Range(0, batch).Select(_ => (long)random.Next(model.Config.VocabSize)).ToArray();
            var expected = model.Step(tensor(step), torchState).data<float>().ToArray();
            var actual = lean.Step(step.Select(x => (int)x).ToArray(), leanState);
            for (int i = 0; i < expected.Length; i++) worst = Math.Max(worst, Math.Abs(expected[i] - actual[i]));
        }
        return worst;
    }

    /// <summary>A TorchSharp prefill of <paramref name="prefill"/> random tokens into <paramref name="torchState"/>, handed
    /// over to a fresh lean state of <paramref name="capacity"/> tokens.</summary>
    public static LeanState HandOverAfterPrefill(LanguageModel model, LeanModel lean, ModelState torchState, int batch, int prefill, int capacity)
    {
        using (no_grad())
        using (var ids = randint(0, model.Config.VocabSize, [batch, prefill]))
            model.Forward(ids, torchState).Dispose();
        var leanState = lean.AllocateState(batch, capacity);
        lean.ImportState(torchState, leanState);
        return leanState;
    }

    /// <summary>The golden case's model stepped by the lean engine over its input_ids; the largest |difference| to its
    /// official logits_recurrent.</summary>
    public static double WorstVersusOfficialRecurrentLogits(GoldenCase golden)
    {
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
        return worst;
    }
}
