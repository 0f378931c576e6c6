using ArchLab.Models;
using ArchLab.Runtime;
using static TorchSharp.torch;

namespace ArchLab.Recall;

/// <summary>
/// Logits at the scored positions only: the same computation as <see cref="LanguageModel.Forward"/> (embedding, optional
/// embedding norm, blocks, final norm), but the head (V·d per token, most of the work with a large vocabulary) is applied
/// only where a target is scored. A test checks it against the full forward pass.
/// </summary>
public static class QueryLogits
{
    /// <summary>Logits [scored, vocab] and the targets [scored] at positions where <paramref name="targets"/> ≠ ignore, row-major.</summary>
    public static (Tensor Logits, Tensor Targets) Compute(LanguageModel model, Tensor ids, Tensor targets)
    {
        using var scope = NewDisposeScope();
        var h = model.embed.call(ids);
        if (model.embed_norm is not null) h = model.embed_norm.call(h);
        foreach (var block in model.blocks) h = block.Forward(h, null, returnFinal: false).Output;
        var flatTargets = targets.flatten();
        var where = flatTargets.ne(RecallExample.Ignore).nonzero().squeeze(1);
        var scored = model.norm.call(h.flatten(0, 1).index_select(0, where));
        var logits = model.head is null ? Autocast.Linear(scored, model.embed.weight!) : model.head.call(scored);
        return (logits.MoveToOuterDisposeScope(), flatTargets.index_select(0, where).MoveToOuterDisposeScope());
    }
}
