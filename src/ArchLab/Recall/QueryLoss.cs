using ArchLab.Models;
using ArchLab.Training;
using static TorchSharp.torch;

namespace ArchLab.Recall;

/// <summary>
/// The recall tasks' training loss: cross-entropy at the scored positions only (targets other than
/// <see cref="RecallExample.Ignore"/>, PyTorch's ignore_index), with the output head run only there
/// (<see cref="QueryLogits"/>). It also counts how many scored positions of the training batches the model got right, for
/// the study's early stop on training query accuracy; evaluation batches (model in eval mode) are not counted.
/// </summary>
public sealed class QueryLoss : ITrainingLoss
{
    long correct, scored;

    public Tensor PerPosition(LanguageModel model, Tensor inputs, Tensor targets)
    {
        var (logits, queryTargets) = QueryLogits.Compute(model, inputs, targets);
        if (model.training)
            using (no_grad())
            {
                correct += logits.argmax(1).eq(queryTargets).sum().item<long>();
                scored += queryTargets.shape[0];
            }
        return nn.functional.cross_entropy(logits, queryTargets, reduction: nn.Reduction.None);
    }

    /// <summary>Right and scored positions of the training batches since the last call (one optimizer step's, when
    /// called after every step).</summary>
    public (long Correct, long Scored) TakeTrainingCounts()
    {
        var counts = (correct, scored);
        (correct, scored) = (0, 0);
        return counts;
    }
}
