using ArchLab.Models;
using TorchSharp;
using static TorchSharp.torch;

namespace ArchLab.Training;

/// <summary>Mean loss per scored position over the validation windows (next-token cross-entropy unless a loss is given).</summary>
public static class Evaluator
{
    public static EvalResult Evaluate(LanguageModel model, ITrainingData data, int maxBatches, Device device, bool bf16 = false,
        ITrainingLoss? loss = null)
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
                var losses = (loss ?? NextTokenLoss.Instance).PerPosition(model, x.to(device), y.to(device));
                lossSum += losses.to(ScalarType.Float64).sum().item<double>();
                tokens += losses.shape[0];
            }
        }
        model.train(wasTraining);
        if (tokens == 0) throw new InvalidOperationException("validation set produced no batches");
        return new EvalResult(lossSum / tokens, data.ValidationTokensPerByte, tokens);
    }
}
