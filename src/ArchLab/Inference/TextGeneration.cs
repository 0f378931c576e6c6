using System.Text;
using ArchLab.Data;
using ArchLab.Models;

namespace ArchLab.Inference;

/// <summary>Prompts in, completions out: tokenizes, generates the rows together (<see cref="Generation.GenerateBatch"/>),
/// stops rows at stop strings and streams text as it becomes final. Tokens are drawn only among the tokenizer's ids (a model
/// with a bigger, e.g. padded, vocabulary could otherwise draw an id the tokenizer cannot decode).</summary>
public static class TextGeneration
{
    /// <param name="onText">called with (row, text) for each piece of a row's completion once it can no longer change:
    /// whole characters only, and never text that could still turn out to start a stop string</param>
    public static string[] Generate(LanguageModel model, ITextTokenizer tokenizer, IReadOnlyList<string> prompts, int maxNewTokens,
        SamplingOptions sampling, IReadOnlyList<string>? stopStrings = null, Action<int, string>? onText = null, EngineOptions? engine = null,
        GenerationTimings? timings = null)
    {
        var stops = new StopStrings(stopStrings ?? [], t => tokenizer.Decode(t));
        var encoded = prompts.Select(p => (IReadOnlyList<int>)tokenizer.Encode(p)).ToArray();
        var streams = prompts.Select(_ => new IncrementalText(tokenizer, stops)).ToArray();
        var generated = Generation.GenerateBatch(model, encoded, maxNewTokens, sampling,
            stop: stops.IsEmpty ? null : (_, output) => stops.Reached(output),
            onToken: onText is null ? null : (row, token) => { if (streams[row].Add(token, final: false) is { Length: > 0 } text) onText(row, text); },
            engine: engine, timings: timings, drawnIds: Math.Min(tokenizer.VocabSize, model.Config.VocabSize));
        if (onText is not null)
            for (int r = 0; r < prompts.Count; r++)
                if (streams[r].Add(null, final: true) is { Length: > 0 } text) onText(r, text);
        return generated.Select(g => stops.Cut(tokenizer.Decode(g)).Text).ToArray();
    }

    /// <summary>
    /// One row's streamed text, decoded incrementally: tokens whose text ends on a whole character are decoded once and
    /// kept (<see cref="settled"/>); only the tokens after them are decoded again with each new token, and stop strings
    /// are looked for only where a new one could end. So streaming costs O(length), not O(length²).
    /// </summary>
    sealed class IncrementalText(ITextTokenizer tokenizer, StopStrings stops)
    {
        readonly List<int> pendingTokens = [];
        readonly StringBuilder settled = new();
        int shown;          // characters handed out so far
        bool stopped;

        /// <summary>Adds a token (or none, with <paramref name="final"/>) and returns the text that became final.</summary>
        public string Add(int? token, bool final)
        {
            if (stopped) return "";
            if (token is int t) pendingTokens.Add(t);
            string pending = tokenizer.Decode(pendingTokens.ToArray());
            if (pending.Length > 0 && (!pending.EndsWith('\uFFFD') || final || pendingTokens.Count > 8)) // > 8: bytes that never form a character
            {
                settled.Append(pending);
                pendingTokens.Clear();
                pending = "";
            }
            int hold = Math.Max(0, stops.LongestLength - 1);
            int tailStart = Math.Min(settled.Length, Math.Max(0, shown - hold)); // shown may already include unsettled text
            string tail = settled.ToString(tailStart, settled.Length - tailStart) + pending;
            var (cut, found) = stops.Cut(tail);
            int end = tailStart + cut.Length;
            if (found) stopped = true;
            else if (!final)
            {
                end = Math.Max(0, end - hold); // the tail might begin a stop string
                int replacement = tail.IndexOf('\uFFFD', Math.Max(0, tail.Length - 3)); // an unfinished UTF-8 character at the end
                if (replacement >= 0) end = Math.Min(end, tailStart + replacement);
            }
            if (end <= shown) return "";
            string text = tail[(shown - tailStart)..(end - tailStart)];
            shown = end;
            return text;
        }
    }
}
