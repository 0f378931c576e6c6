using System.Text.RegularExpressions;

namespace ArchLab.Data;

/// <summary>
/// The cl100k (GPT-4) pre-tokenization regex: contractions, words with an optional leading non-letter (usually a
/// space), numbers of up to 3 digits, punctuation runs, newlines, whitespace. BPE merges never cross these pieces.
/// Shared by <see cref="BpeTrainer"/> and by the tokenizer that loads its <c>.tiktoken</c> file, so both agree.
/// </summary>
public static partial class PreTokenizerPattern
{
    public const string Cl100k =
        @"(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,3}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+";

    [GeneratedRegex(Cl100k)]
    public static partial Regex Regex();
}
