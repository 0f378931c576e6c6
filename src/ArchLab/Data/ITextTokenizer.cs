namespace ArchLab.Data;

/// <summary>Text ⇄ token ids. <see cref="Name"/> identifies the tokenizer's content (it keys the token cache).</summary>
public interface ITextTokenizer
{
    string Name { get; }

    /// <summary>One more than the largest id <see cref="Encode"/> can return (the model's embedding size).</summary>
    int VocabSize { get; }

    int[] Encode(string text);

    string Decode(ReadOnlySpan<int> tokens);
}
