using System.Text;

namespace ArchLab.Data;

/// <summary>Each UTF-8 byte is a token (vocabulary 256). The default for tiny models: no training, lossless.</summary>
public sealed class ByteTokenizer : ITextTokenizer
{
    public string Name => "byte";

    public int VocabSize => 256;

    public int[] Encode(string text)
    {
        byte[] bytes = Encoding.UTF8.GetBytes(text);
        var tokens = new int[bytes.Length];
        for (int i = 0; i < bytes.Length; i++) tokens[i] = bytes[i];
        return tokens;
    }

    /// <summary>Invalid UTF-8 (e.g. a sequence cut mid-character) decodes to U+FFFD.</summary>
    public string Decode(ReadOnlySpan<int> tokens)
    {
        var bytes = new byte[tokens.Length];
        for (int i = 0; i < tokens.Length; i++)
            bytes[i] = tokens[i] is >= 0 and < 256
                ? (byte)tokens[i]
                : throw new ArgumentOutOfRangeException(nameof(tokens), $"Token {tokens[i]} is not a byte (0..255).");
        return Encoding.UTF8.GetString(bytes);
    }
}
