using ArchLab.Models;
using static TorchSharp.torch;

namespace ArchLab.Training;

/// <summary>
/// What the trainer (and its evaluation) minimises: the loss at every scored position of a batch. It takes the model
/// rather than its logits so that a loss scoring few positions can run the output head only there (recall's queries:
/// with a large vocabulary the head is most of the work, and full logits would be most of the memory).
/// </summary>
public interface ITrainingLoss
{
    /// <summary>Per-position losses [scored] (float32, with the graph) of <paramref name="inputs"/> against
    /// <paramref name="targets"/> (int64 [batch, seqLen] each): the trainer takes their mean, the evaluator their sum.</summary>
    Tensor PerPosition(LanguageModel model, Tensor inputs, Tensor targets);
}

/// <summary>The language-model loss: cross-entropy of the next token at every position.</summary>
public sealed class NextTokenLoss : ITrainingLoss
{
    public static readonly NextTokenLoss Instance = new();

    public Tensor PerPosition(LanguageModel model, Tensor inputs, Tensor targets) =>
        nn.functional.cross_entropy(model.forward(inputs).flatten(0, 1), targets.flatten(), reduction: nn.Reduction.None);
}
