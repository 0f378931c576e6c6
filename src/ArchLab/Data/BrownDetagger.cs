using System.Text;

namespace ArchLab.Data;

/// <summary>
/// Turns one Brown corpus file (form C: whitespace-separated <c>word/tag</c> tokens, one sentence per line,
/// a leading tab marks the first sentence of a paragraph) into running English text:
/// tags are stripped (everything after the token's last '/'), tokens are rejoined with single spaces except
/// no space before closing punctuation (, . ; : ! ? ) ] and closing quotes) and none after opening brackets/quotes;
/// Brown's <c>``</c> and <c>''</c> become <c>"</c>; a lone <c>'</c> alternates open/close within a sentence.
/// A sentence-final '.' after an abbreviation's period is dropped ("Jr.." → "Jr.").
/// Output: one sentence per line, a blank line between paragraphs.
/// </summary>
public static class BrownDetagger
{
    static readonly HashSet<string> NoSpaceBefore = [",", ".", ";", ":", "!", "?", ")", "]", "}", "''"];
    static readonly HashSet<string> NoSpaceAfter = ["``", "(", "[", "{"];

    public static string Detag(string taggedText)
    {
        var output = new StringBuilder(taggedText.Length / 2);
        foreach (string rawLine in taggedText.Split('\n'))
        {
            string line = rawLine.TrimEnd('\r');
            if (string.IsNullOrWhiteSpace(line)) continue;
            bool startsParagraph = char.IsWhiteSpace(line[0]);
            if (startsParagraph && output.Length > 0) output.Append('\n');
            output.Append(DetagSentence(line)).Append('\n');
        }
        return output.ToString();
    }

    /// <summary>One tagged sentence (a line of the source) to plain text.</summary>
    public static string DetagSentence(string taggedLine)
    {
        var sentence = new StringBuilder(taggedLine.Length);
        bool spaceAllowed = false; // no space at the start of a line
        bool singleQuoteOpen = false;
        foreach (string token in taggedLine.Split((char[]?)null, StringSplitOptions.RemoveEmptyEntries))
        {
            string word = StripTag(token);
            if (word == "." && sentence.Length > 0 && sentence[^1] == '.') continue; // "Jr." + "." → "Jr."
            bool noSpaceBefore = NoSpaceBefore.Contains(word) || word == "/";
            bool noSpaceAfter = NoSpaceAfter.Contains(word) || word == "/";
            if (word == "'")
            {
                noSpaceBefore = singleQuoteOpen;   // closing quote hugs the previous word
                noSpaceAfter = !singleQuoteOpen;   // opening quote hugs the next word
                singleQuoteOpen = !singleQuoteOpen;
            }
            if (spaceAllowed && !noSpaceBefore) sentence.Append(' ');
            sentence.Append(word is "``" or "''" ? "\"" : word);
            spaceAllowed = !noSpaceAfter;
        }
        return sentence.ToString();
    }

    /// <summary><c>Atlanta's/np$</c> → <c>Atlanta's</c>; <c>//in</c> → <c>/</c>; a token without a tag is kept whole.</summary>
    public static string StripTag(string token)
    {
        int slash = token.LastIndexOf('/');
        return slash > 0 ? token[..slash] : token;
    }
}
