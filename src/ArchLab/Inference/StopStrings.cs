namespace ArchLab.Inference;

/// <summary>
/// Text that ends a generation: a row stops as soon as its generated text contains one of the strings, and the
/// completion is cut before the earliest occurrence (the stop string itself is not part of it).
/// </summary>
public sealed class StopStrings
{
    readonly string[] stops;
    readonly Func<int[], string> decode;
    readonly int window;

    public StopStrings(IReadOnlyList<string> stops, Func<int[], string> decode)
    {
        if (stops.Any(string.IsNullOrEmpty)) throw new ArgumentException("a stop string must not be empty");
        this.stops = stops.ToArray();
        this.decode = decode;
        // a stop string of L characters (≤ 4L UTF-8 bytes) lies within the last 4L + 1 tokens, each token being ≥ 1 byte
        window = this.stops.Length == 0 ? 0 : 4 * this.stops.Max(s => s.Length) + 1;
    }

    public bool IsEmpty => stops.Length == 0;

    /// <summary>Longest stop string in characters (0 when none): streaming holds back one less than this.</summary>
    public int LongestLength => stops.Length == 0 ? 0 : stops.Max(s => s.Length);

    /// <summary>Whether the tokens generated so far end a stop string (checks the last few tokens only).</summary>
    public bool Reached(IReadOnlyList<int> generated)
    {
        if (stops.Length == 0 || generated.Count == 0) return false;
        int from = Math.Max(0, generated.Count - window);
        string tail = decode(generated.Skip(from).ToArray());
        return stops.Any(s => tail.Contains(s, StringComparison.Ordinal));
    }

    /// <summary><paramref name="text"/> up to the earliest stop string, and whether one was found.</summary>
    public (string Text, bool Stopped) Cut(string text)
    {
        int cut = -1;
        foreach (var s in stops)
        {
            int i = text.IndexOf(s, StringComparison.Ordinal);
            if (i >= 0 && (cut < 0 || i < cut)) cut = i;
        }
        return cut < 0 ? (text, false) : (text[..cut], true);
    }
}
