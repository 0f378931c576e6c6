using ArchLab.Models;
using static TorchSharp.torch;

namespace ArchLab.Recall;

/// <summary>
/// Logits at the scored positions only: <see cref="LanguageModel.HiddenStates"/> (embedding, position embedding, blocks,
/// final norm, exactly as the forward pass), then the head (V·d per token, most of the work with a large vocabulary) only
/// where a target is scored. A test checks it against the full forward pass.
/// </summary>
public static class QueryLogits
{
    /// <summary>Logits [scored, vocab] and the targets [scored] at positions where <paramref name="targets"/> ≠ ignore, row-major.</summary>
    public static (Tensor Logits, Tensor Targets) Compute(LanguageModel model, Tensor ids, Tensor targets)
    {
        using var scope = NewDisposeScope();
        var flatTargets = targets.flatten();
        var where = flatTargets.ne(RecallExample.Ignore).nonzero().squeeze(1);
        var scored = model.HiddenStates(ids).flatten(0, 1).index_select(0, where);
        return (model.Logits(scored).MoveToOuterDisposeScope(), flatTargets.index_select(0, where).MoveToOuterDisposeScope());
    }
}
