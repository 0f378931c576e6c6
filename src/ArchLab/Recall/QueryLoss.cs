using ArchLab.Models;
using ArchLab.Training;
using static TorchSharp.torch;

namespace ArchLab.Recall;

/// <summary>
/// The recall tasks' training loss: cross-entropy at the scored positions only (targets other than
/// <see cref="RecallExample.Ignore"/>, PyTorch's ignore_index), with the output head run only there
/// (<see cref="QueryLogits"/>). It also counts how many scored positions the model got right, apart for training batches
/// (the study's early stop on training query accuracy) and evaluation batches (model in eval mode: the held-out
/// accuracy, from the same pass that gives the validation loss).
/// </summary>
public sealed class QueryLoss : ITrainingLoss
{
    (long Correct, long Scored) training, evaluation;

    public Tensor PerPosition(LanguageModel model, Tensor inputs, Tensor targets)
    {
        var (logits, queryTargets) = QueryLogits.Compute(model, inputs, targets);
        using (no_grad())
        {
            long correct = logits.argmax(1).eq(queryTargets).sum().item<long>(), scored = queryTargets.shape[0];
            if (model.training) training = (training.Correct + correct, training.Scored + scored);
            else evaluation = (evaluation.Correct + correct, evaluation.Scored + scored);
        }
        return nn.functional.cross_entropy(logits, queryTargets, reduction: nn.Reduction.None);
    }

    /// <summary>Right and scored positions of the training batches since the last call (one optimizer step's, when
    /// called after every step).</summary>
    public (long Correct, long Scored) TakeTrainingCounts() => Take(ref training);

    /// <summary>Right and scored positions of the evaluation batches since the last call (one evaluation's, when called
    /// after each one).</summary>
    public (long Correct, long Scored) TakeEvaluationCounts() => Take(ref evaluation);

    static (long Correct, long Scored) Take(ref (long Correct, long Scored) counts)
    {
        var taken = counts;
        counts = (0, 0);
        return taken;
    }
}
