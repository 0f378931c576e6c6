using ArchLab.Data;
using ArchLab.Models;

namespace ArchLab.Inference;

/// <summary>Prompts in, completions out: tokenizes, generates the rows together (<see cref="Generation.GenerateBatch"/>),
/// stops rows at stop strings and streams text as it becomes final.</summary>
public static class TextGeneration
{
    /// <param name="onText">called with (row, text) for each piece of a row's completion once it can no longer change:
    /// whole characters only, and never text that could still turn out to start a stop string</param>
    public static string[] Generate(LanguageModel model, ITextTokenizer tokenizer, IReadOnlyList<string> prompts, int maxNewTokens,
        SamplingOptions sampling, IReadOnlyList<string>? stopStrings = null, Action<int, string>? onText = null)
    {
        var stops = new StopStrings(stopStrings ?? [], t => tokenizer.Decode(t));
        var encoded = prompts.Select(p => (IReadOnlyList<int>)tokenizer.Encode(p)).ToArray();
        var tokens = prompts.Select(_ => new List<int>()).ToArray();
        var shown = new int[prompts.Count];
        void Stream(int row, bool final)
        {
            if (onText is null) return;
            var (text, stopped) = stops.Cut(tokenizer.Decode(tokens[row].ToArray()));
            int end = text.Length;
            if (!final && !stopped)
            {
                end = Math.Max(0, end - Math.Max(0, stops.LongestLength - 1)); // the tail might begin a stop string
                int replacement = text.IndexOf('\uFFFD', Math.Max(0, text.Length - 3)); // an unfinished UTF-8 character at the end
                if (replacement >= 0) end = Math.Min(end, replacement);
            }
            if (end > shown[row]) { onText(row, text[shown[row]..end]); shown[row] = end; }
        }
        var generated = Generation.GenerateBatch(model, encoded, maxNewTokens, sampling,
            stop: stops.IsEmpty ? null : (_, output) => stops.Reached(output),
            onToken: (row, token) => { tokens[row].Add(token); Stream(row, final: false); });
        for (int r = 0; r < prompts.Count; r++) Stream(r, final: true);
        return generated.Select(g => stops.Cut(tokenizer.Decode(g)).Text).ToArray();
    }
}
