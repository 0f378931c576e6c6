namespace ArchLab.Data;

/// <summary>One source document of a corpus (a file), named for deterministic ordering.</summary>
public sealed record Document(string Name, string Text);

/// <summary>
/// The deterministic train/validation split used for every corpus.
/// Documents are sorted by name (ordinal). With at least <see cref="ValidationEvery"/> documents the split is by
/// document: the 20th, 40th, … (sorted index % 20 == 19) go to validation, i.e. 5% of the documents (Brown: 25 of 500,
/// spread over all genres because Brown's file names are ordered by genre). With fewer documents the concatenated text
/// is split by tail fraction: the last ~5% of characters, starting at a line boundary, is validation.
/// Documents are joined with a blank line between them.
/// </summary>
public static class CorpusSplitter
{
    public const int ValidationEvery = 20;
    public const double ValidationFraction = 1.0 / ValidationEvery;

    public static (string Train, string Validation) Split(IEnumerable<Document> documents)
    {
        var sorted = documents.OrderBy(d => d.Name, StringComparer.Ordinal).ToList();
        if (sorted.Count >= ValidationEvery)
        {
            var train = sorted.Where((_, i) => !IsValidationIndex(i));
            var validation = sorted.Where((_, i) => IsValidationIndex(i));
            return (Join(train), Join(validation));
        }
        return SplitTail(Join(sorted));
    }

    public static bool IsValidationIndex(int sortedIndex) => sortedIndex % ValidationEvery == ValidationEvery - 1;

    /// <summary>Splits one text so that roughly the last 5% (from the start of a line) is validation.</summary>
    public static (string Train, string Validation) SplitTail(string text)
    {
        int target = (int)(text.Length * (1 - ValidationFraction));
        int newline = text.IndexOf('\n', target);
        int cut = newline >= 0 && newline + 1 < text.Length ? newline + 1 : target;
        if (cut > 0 && cut < text.Length && char.IsLowSurrogate(text[cut])) cut--; // never split a surrogate pair
        return (text[..cut], text[cut..]);
    }

    /// <summary>Each document ends with a newline; a blank line separates documents.</summary>
    static string Join(IEnumerable<Document> documents) =>
        string.Join("\n", documents.Select(d => d.Text.EndsWith('\n') ? d.Text : d.Text + "\n"));
}
