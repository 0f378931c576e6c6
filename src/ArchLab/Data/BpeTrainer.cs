using System.Text;

namespace ArchLab.Data;

/// <summary>
/// Trains a byte-level BPE vocabulary (GPT-2/tiktoken style).
/// 1. Pre-tokenize the text with the cl100k regex (<see cref="PreTokenizerPattern"/>) and count each distinct piece
///    ("word"); merges never cross piece boundaries.
/// 2. Start from the 256 single-byte tokens; every word is a sequence of byte ids.
/// 3. Repeatedly merge the most frequent adjacent pair (counted over words × word counts) into a new token.
///    Ties go to the smaller (left id, right id), so training is deterministic.
/// Pair counts are kept up to date incrementally: a merge only revisits the words that contain the pair
/// (an index pair → words) and a max-heap with lazy deletion finds the next best pair.
/// </summary>
public static class BpeTrainer
{
    public static BpeVocabulary Train(string text, int vocabSize)
    {
        if (vocabSize < 256) throw new ArgumentOutOfRangeException(nameof(vocabSize), "A byte-level BPE vocabulary needs at least 256 tokens.");

        var (words, counts) = CountWords(text);
        var tokens = Enumerable.Range(0, 256).Select(b => new[] { (byte)b }).ToList();
        var tokenIds = new Dictionary<string, int>(); // bytes (as Latin-1 string) → id, to spot a merge that repeats a token
        for (int b = 0; b < 256; b++) tokenIds[Key(tokens[b])] = b;
        var merges = new List<(int, int)>();

        var pairCounts = new Dictionary<long, long>();
        var wordsWithPair = new Dictionary<long, List<int>>();
        for (int w = 0; w < words.Length; w++) AddPairs(words[w], counts[w], w, pairCounts, wordsWithPair, onlyWithToken: -1);

        var heap = new PriorityQueue<long, (long Count, long Pair)>(BestFirst.Instance);
        foreach (var (pair, count) in pairCounts) heap.Enqueue(pair, (count, pair));

        var lastVisit = new int[words.Length];
        Array.Fill(lastVisit, -1);
        var delta = new Dictionary<long, long>();

        while (tokens.Count < vocabSize && heap.TryDequeue(out long best, out var priority))
        {
            if (!pairCounts.TryGetValue(best, out long current) || current != priority.Count) continue; // stale entry
            var (left, right) = Unpack(best);
            byte[] merged = [.. tokens[left], .. tokens[right]];
            if (!tokenIds.TryGetValue(Key(merged), out int newId))
            {
                newId = tokens.Count;
                tokens.Add(merged);
                tokenIds[Key(merged)] = newId;
            }
            merges.Add((left, right));

            delta.Clear();
            foreach (int w in wordsWithPair[best])
            {
                if (lastVisit[w] == merges.Count) continue; // listed twice
                lastVisit[w] = merges.Count;
                int[]? replaced = Merge(words[w], left, right, newId);
                if (replaced is null) continue; // pair no longer in this word
                AddPairs(words[w], -counts[w], w, delta, null, onlyWithToken: -1);
                AddPairs(replaced, counts[w], w, delta, wordsWithPair, onlyWithToken: newId);
                words[w] = replaced;
            }
            wordsWithPair.Remove(best);

            foreach (var (pair, change) in delta)
            {
                if (change == 0) continue;
                long updated = pairCounts.GetValueOrDefault(pair) + change;
                if (updated > 0)
                {
                    pairCounts[pair] = updated;
                    heap.Enqueue(pair, (updated, pair));
                }
                else pairCounts.Remove(pair);
            }
        }
        return new BpeVocabulary(tokens, merges);
    }

    /// <summary>Distinct pre-tokenized pieces as byte-id arrays (sorted ordinally, for determinism) and their counts.</summary>
    static (int[][] Words, long[] Counts) CountWords(string text)
    {
        var counts = new Dictionary<string, long>();
        var lookup = counts.GetAlternateLookup<ReadOnlySpan<char>>();
        foreach (var match in PreTokenizerPattern.Regex().EnumerateMatches(text))
        {
            var piece = text.AsSpan(match.Index, match.Length);
            lookup[piece] = lookup.TryGetValue(piece, out long n) ? n + 1 : 1;
        }
        var sorted = counts.Keys.Order(StringComparer.Ordinal).ToArray();
        var words = sorted.Select(s => Encoding.UTF8.GetBytes(s).Select(b => (int)b).ToArray()).ToArray();
        return (words, sorted.Select(s => counts[s]).ToArray());
    }

    /// <summary>
    /// Adds <paramref name="weight"/> for every adjacent pair of <paramref name="word"/>; records word <paramref name="w"/>
    /// in <paramref name="index"/> for pairs that involve <paramref name="onlyWithToken"/> (all pairs when -1).
    /// </summary>
    static void AddPairs(int[] word, long weight, int w, Dictionary<long, long> pairCounts,
        Dictionary<long, List<int>>? index, int onlyWithToken)
    {
        for (int i = 0; i + 1 < word.Length; i++)
        {
            long pair = Pack(word[i], word[i + 1]);
            pairCounts[pair] = pairCounts.GetValueOrDefault(pair) + weight;
            if (index is null || (onlyWithToken >= 0 && word[i] != onlyWithToken && word[i + 1] != onlyWithToken)) continue;
            if (!index.TryGetValue(pair, out var list)) index[pair] = list = [];
            if (list.Count == 0 || list[^1] != w) list.Add(w);
        }
    }

    /// <summary>The word with every non-overlapping (left, right), scanned left to right, replaced by newId; null if none.</summary>
    static int[]? Merge(int[] word, int left, int right, int newId)
    {
        List<int>? result = null;
        for (int i = 0; i < word.Length; i++)
        {
            if (i + 1 < word.Length && word[i] == left && word[i + 1] == right)
            {
                result ??= [.. word.AsSpan(0, i)];
                result.Add(newId);
                i++;
            }
            else result?.Add(word[i]);
        }
        return result?.ToArray();
    }

    static long Pack(int left, int right) => ((long)left << 32) | (uint)right;

    static (int Left, int Right) Unpack(long pair) => ((int)(pair >> 32), (int)(pair & 0xFFFFFFFF));

    static string Key(byte[] bytes) => Encoding.Latin1.GetString(bytes);

    /// <summary>Highest count first; ties: smaller packed pair (left id, then right id) first.</summary>
    sealed class BestFirst : IComparer<(long Count, long Pair)>
    {
        public static readonly BestFirst Instance = new();

        public int Compare((long Count, long Pair) a, (long Count, long Pair) b) =>
            a.Count != b.Count ? b.Count.CompareTo(a.Count) : a.Pair.CompareTo(b.Pair);
    }
}
