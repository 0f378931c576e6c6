using System.Diagnostics;
using ArchLab.Models;
using ArchLab.Training;
using TorchSharp;
using static TorchSharp.torch;

namespace ArchLab.Recall;

/// <summary>
/// One recall run: trains a <see cref="LanguageModel"/> on a <see cref="RecallDataset"/> through the general
/// <see cref="Trainer"/> with the <see cref="QueryLoss"/> (cross-entropy at the scored positions only), stops early once
/// the training query accuracy of the last <see cref="RecallTrainConfig.StopWindow"/> batches reaches
/// <see cref="RecallTrainConfig.StopAtTrainAccuracy"/>. The trainer's final evaluation covers the whole held-out set; its
/// loss and the accuracy the <see cref="QueryLoss"/> counted in that same pass are the result.
/// </summary>
public static class RecallTraining
{
    /// <summary>Trains and evaluates. The trainer's run folder (configs, metrics.jsonl; no checkpoints) is
    /// <paramref name="runDir"/>, or a temporary folder deleted afterwards. <paramref name="cancel"/> stops it before the
    /// next step (<see cref="OperationCanceledException"/>).</summary>
    public static RecallResult Train(LanguageModel model, RecallDataset data, RecallTrainConfig config, Action<string>? log = null,
        CancellationToken cancel = default, string? runDir = null)
    {
        config.Validate();
        var clock = Stopwatch.StartNew();
        var trainingData = new RecallTrainingData(data, config.BatchSize, config.EvalBatchSize);
        var loss = new QueryLoss();
        string dir = runDir ?? Directory.CreateTempSubdirectory("archlab-recall-run").FullName;
        try
        {
            var trainer = Trainer.Start(model, config.ToTrainConfig(data.Task.SeqLen, trainingData.ValidationBatchCount), trainingData,
                                        dir, torch.CPU, loss);
            var recent = new Queue<(long Correct, long Scored)>();
            double lastLoss = double.NaN;
            trainer.StepFinished += step =>
            {
                lastLoss = step.Loss;
                recent.Enqueue(loss.TakeTrainingCounts());
                if (recent.Count > config.StopWindow) recent.Dequeue();
                double recentAccuracy = (double)recent.Sum(r => r.Correct) / Math.Max(1, recent.Sum(r => r.Scored));
                if (step.Step % config.LogEvery == 0)
                    log?.Invoke($"step {step.Step,6}/{config.Steps}  loss {step.Loss,8:F4}  train acc (last {recent.Count}) {recentAccuracy:P1}  lr {step.LearningRate:E2}  {clock.Elapsed.TotalSeconds,6:F0}s");
                if (config.StopAtTrainAccuracy > 0 && recent.Count == config.StopWindow && recentAccuracy >= config.StopAtTrainAccuracy)
                {
                    log?.Invoke($"step {step.Step}: training query accuracy {recentAccuracy:P2} over the last {recent.Count} batches; stopping");
                    trainer.StopAfterThisStep();
                }
            };
            (long Correct, long Scored) heldOut = (0, 0);
            trainer.Evaluated += (_, _) => heldOut = loss.TakeEvaluationCounts(); // the last evaluation is the final one
            var final = trainer.Run(cancel);
            return new RecallResult((double)heldOut.Correct / heldOut.Scored, final.Loss, heldOut.Correct, heldOut.Scored,
                                    (int)trainer.State.Step, lastLoss, clock.Elapsed.TotalSeconds);
        }
        finally
        {
            if (runDir is null) Directory.Delete(dir, recursive: true);
        }
    }

    /// <summary>Accuracy (argmax = target) and mean cross-entropy over every scored position of <paramref name="examples"/>.</summary>
    public static (double Accuracy, double Loss, long Correct, long Scored) Evaluate(LanguageModel model, IReadOnlyList<RecallExample> examples, int batchSize)
    {
        bool wasTraining = model.training;
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
        model.train(wasTraining);
        return ((double)correct / scored, lossSum / scored, correct, scored);
    }
}
