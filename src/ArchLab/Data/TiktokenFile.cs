using ArchLab.IO;
using System.Text;

namespace ArchLab.Data;

/// <summary>
/// The <c>.tiktoken</c> ranks format read by tiktoken and Microsoft.ML.Tokenizers: one line per token,
/// <c>base64(token bytes) + ' ' + rank</c>, ranks 0..N-1 in order.
/// </summary>
public static class TiktokenFile
{
    /// <summary>Writes the tokens (index = rank) atomically.</summary>
    public static void Write(string path, IReadOnlyList<byte[]> tokensByRank)
    {
        var text = new StringBuilder();
        for (int rank = 0; rank < tokensByRank.Count; rank++)
            text.Append(Convert.ToBase64String(tokensByRank[rank])).Append(' ').Append(rank).Append('\n');
        AtomicFile.WriteAllText(path, text.ToString());
    }

    /// <summary>Reads the tokens back, index = rank.</summary>
    public static List<byte[]> Read(string path)
    {
        var tokens = new List<byte[]>();
        foreach (string line in File.ReadLines(path))
        {
            if (line.Length == 0) continue;
            string[] parts = line.Split(' ');
            if (parts.Length != 2 || !int.TryParse(parts[1], out int rank) || rank != tokens.Count)
                throw new InvalidDataException($"Malformed .tiktoken line {tokens.Count + 1} in {path}: '{line}'");
            tokens.Add(Convert.FromBase64String(parts[0]));
        }
        return tokens;
    }
}
