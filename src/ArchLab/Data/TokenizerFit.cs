namespace ArchLab.Data;

/// <summary>Whether a tokenizer's ids fit a model's vocabulary: every id it can produce must index the embedding table.</summary>
public static class TokenizerFit
{
    /// <exception cref="ArgumentException">The tokenizer has more ids than the model's vocabulary; the message names both.</exception>
    public static void Require(ITextTokenizer tokenizer, int modelVocabSize)
    {
        if (tokenizer.VocabSize > modelVocabSize)
            throw new ArgumentException(
                $"tokenizer '{tokenizer.Name}' has {tokenizer.VocabSize:N0} ids but the model's vocabulary has {modelVocabSize:N0}: " +
                "use the tokenizer the model was trained with (--tokenizer)");
    }
}
