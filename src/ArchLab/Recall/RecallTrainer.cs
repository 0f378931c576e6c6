using System.Diagnostics;
using ArchLab.Models;
using ArchLab.Training;
using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace ArchLab.Recall;

/// <summary>
/// Trains a <see cref="LanguageModel"/> on a <see cref="RecallDataset"/> with cross-entropy at the scored positions only
/// (every other target is ignore_index), AdamW and warmup + cosine (<see cref="LearningRateSchedule"/>), then measures
/// accuracy at the scored positions of the held-out set. The general <see cref="Trainer"/> scores every position, hence
/// this small loop.
/// </summary>
public static class RecallTrainer
{
    /// <summary>Trains and evaluates; <paramref name="cancel"/> stops it before the next step (<see cref="OperationCanceledException"/>).</summary>
    public static RecallResult Train(LanguageModel model, RecallDataset data, RecallTrainConfig config, Action<string>? log = null,
        CancellationToken cancel = default)
    {
        config.Validate();
        var clock = Stopwatch.StartNew();
        var optimizer = CreateOptimizer(model, config);
        var recent = new Queue<(long Correct, long Scored)>();
        double lastLoss = double.NaN;
        int stepsRun = 0;
        model.train();
        for (int step = 0; step < config.Steps; step++)
        {
            cancel.ThrowIfCancellationRequested();
            double lr = LearningRateSchedule.At(step, config.Steps, config.LearningRate, config.WarmupSteps, config.MinLrRatio);
            foreach (var group in optimizer.ParamGroups) group.LearningRate = lr;
            long correct, scored;
            using (var scope = NewDisposeScope())
            {
                optimizer.zero_grad();
                var (x, y) = RecallDataset.ToTensors(data.TrainIndices(step, config.BatchSize).Select(i => data.Train[i]));
                var (logits, targets) = QueryLogits.Compute(model, x, y);
                var loss = nn.functional.cross_entropy(logits, targets, ignore_index: RecallExample.Ignore);
                lastLoss = loss.item<float>();
                if (!double.IsFinite(lastLoss)) throw new TrainingDivergedException($"recall: non-finite loss ({lastLoss}) at step {step + 1}");
                loss.backward();
                if (config.GradClip > 0) nn.utils.clip_grad_norm_(model.parameters(), config.GradClip);
                optimizer.step();
                correct = logits.argmax(1).eq(targets).sum().item<long>();
                scored = targets.shape[0];
            }
            stepsRun = step + 1;
            recent.Enqueue((correct, scored));
            if (recent.Count > config.StopWindow) recent.Dequeue();
            double recentAccuracy = (double)recent.Sum(r => r.Correct) / Math.Max(1, recent.Sum(r => r.Scored));
            if ((step + 1) % config.LogEvery == 0)
                log?.Invoke($"step {step + 1,6}/{config.Steps}  loss {lastLoss,8:F4}  train acc (last {recent.Count}) {recentAccuracy:P1}  lr {lr:E2}  {clock.Elapsed.TotalSeconds,6:F0}s");
            if (config.StopAtTrainAccuracy > 0 && recent.Count == config.StopWindow && recentAccuracy >= config.StopAtTrainAccuracy)
            {
                log?.Invoke($"step {step + 1}: training query accuracy {recentAccuracy:P2} over the last {recent.Count} batches; stopping");
                break;
            }
        }
        var (accuracy, valLoss, right, total) = Evaluate(model, data.Validation, config.EvalBatchSize);
        return new RecallResult(accuracy, valLoss, right, total, stepsRun, lastLoss, clock.Elapsed.TotalSeconds);
    }

    /// <summary>Accuracy (argmax = target) and mean cross-entropy over every scored position of <paramref name="examples"/>.</summary>
    public static (double Accuracy, double Loss, long Correct, long Scored) Evaluate(LanguageModel model, IReadOnlyList<RecallExample> examples, int batchSize)
    {
        model.eval();
        long correct = 0, scored = 0;
        double lossSum = 0;
        using (no_grad())
            for (int start = 0; start < examples.Count; start += batchSize)
            {
                using var scope = NewDisposeScope();
                var (x, y) = RecallDataset.ToTensors(examples.Skip(start).Take(batchSize));
                var (logits, targets) = QueryLogits.Compute(model, x, y);
                lossSum += nn.functional.cross_entropy(logits, targets, reduction: nn.Reduction.Sum).item<float>();
                correct += logits.argmax(1).eq(targets).sum().item<long>();
                scored += targets.shape[0];
            }
        model.train();
        return ((double)correct / scored, lossSum / scored, correct, scored);
    }

    /// <summary>Weight decay on the model's <see cref="LanguageModel.WeightDecayGroups"/> (as the general trainer does).</summary>
    static AdamW CreateOptimizer(LanguageModel model, RecallTrainConfig config)
    {
        var (decay, noDecay) = model.WeightDecayGroups();
        return optim.AdamW([
            new AdamW.ParamGroup(decay, lr: config.LearningRate, weight_decay: config.WeightDecay),
            new AdamW.ParamGroup(noDecay, lr: config.LearningRate, weight_decay: 0.0),
        ], lr: config.LearningRate);
    }
}
