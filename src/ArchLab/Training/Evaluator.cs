using ArchLab.Models;
using TorchSharp;
using static TorchSharp.torch;

namespace ArchLab.Training;

/// <summary>Mean next-token loss over the validation windows.</summary>
public static class Evaluator
{
    public static EvalResult Evaluate(LanguageModel model, ITrainingData data, int maxBatches, Device device, bool bf16 = false)
    {
        bool wasTraining = model.training;
        model.eval();
        double lossSum = 0;
        long tokens = 0;
        using (no_grad())
        using (Runtime.Autocast.Bf16(bf16))
        {
            foreach (var (x, y) in data.ValidationBatches(maxBatches))
            {
                using var scope = NewDisposeScope();
                var logits = model.forward(x.to(device));
                var loss = nn.functional.cross_entropy(logits.flatten(0, 1), y.to(device).flatten(), reduction: nn.Reduction.Sum);
                lossSum += loss.to(ScalarType.Float64).item<double>();
                tokens += y.NumberOfElements;
            }
        }
        model.train(wasTraining);
        if (tokens == 0) throw new InvalidOperationException("validation set produced no batches");
        return new EvalResult(lossSum / tokens, data.ValidationTokensPerByte, tokens);
    }
}
