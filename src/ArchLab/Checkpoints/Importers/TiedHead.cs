using static TorchSharp.torch;
using ArchLab.Models;

namespace ArchLab.Checkpoints.Importers;

/// <summary>The check of layouts that may save a tied head under its own name too: that copy must equal the embedding.</summary>
static class TiedHead
{
    /// <summary>The head's name when the model is tied and the file holds it (equal to the embedding, else an error naming
    /// <paramref name="tieField"/>); nothing otherwise.</summary>
    public static IEnumerable<string> NotParameters(IReadOnlyDictionary<string, Tensor> official, ModelConfig config,
                                                    string embedding, string head, string tieField)
    {
        if (!config.TiedEmbeddings || !official.TryGetValue(head, out var headTensor)) return [];
        if (official.TryGetValue(embedding, out var embeddingTensor) && !Same(headTensor, embeddingTensor))
            throw new CheckpointException($"'{head}' differs from '{embedding}' although '{tieField}' is true");
        return [head];
    }

    static bool Same(Tensor a, Tensor b)
    {
        using var scope = NewDisposeScope();
        return a.shape.SequenceEqual(b.shape) && a.eq(b).all().item<bool>();
    }
}
