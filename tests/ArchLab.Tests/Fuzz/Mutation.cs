using System.Buffers.Binary;
using System.Text;
using System.Text.RegularExpressions;
using CsCheck;

namespace ArchLab.Tests.Fuzz;

/// <summary>One edit of a file's bytes: what to do, where, and with which value (small numbers, so CsCheck shrinks well).</summary>
public readonly record struct Mutation(int Kind, int Position, int Value)
{
    public const int Kinds = 8;

    public static readonly Gen<Mutation> Gen =
        CsCheck.Gen.Select(CsCheck.Gen.Int[0, Kinds - 1], CsCheck.Gen.Int[0, 1 << 16], CsCheck.Gen.Int[0, 1 << 16], (k, p, v) => new Mutation(k, p, v));

    public static readonly Gen<Mutation[]> Several = Gen.Array[1, 4];

    /// <summary>Numbers that break size arithmetic: zero, negatives, int and long edges, overflowing products, non-integers.</summary>
    public static readonly string[] Numbers =
    [
        "0", "-1", "1", "2", "3", "7", "8", "16", "255", "256", "65535", "65536", "2147483647", "2147483648", "-2147483648",
        "4294967296", "9223372036854775807", "9223372036854775808", "-9223372036854775808", "18446744073709551615",
        "2305843009213693952", "1.5", "1e400", "-1e400", "1e-400", "0.0", "1e300",
    ];

    /// <summary>JSON values that are the wrong kind or the wrong string (a lone surrogate, a reserved name, a known dtype).</summary>
    public static readonly string[] Values =
    [
        "null", "true", "false", "[]", "{}", "[1]", "\"\"", "\"x\"", "\"F32\"", "\"BF16\"", "\"I64\"", "\"BOOL\"", "\"U8\"",
        "\"__metadata__\"", "\"a\\ud800\"", "\"\\u0000\"", "\"\\udc00x\"", "\"auto\"", "\"Mamba2\"", "\"transformer\"", "\"rwkv4\"",
        "\"mamba\"", "\"retnet\"", "\"layernorm\"", "\"swiglu\"", "[0,0]", "[0,18446744073709551615]", "[9223372036854775807,0]",
        "{\"a\":1}", "[[]]",
    ];

    static readonly Regex Tokens = new("\"(?:[^\"\\\\]|\\\\.)*\"|-?\\d+(?:\\.\\d+)?(?:[eE][+-]?\\d+)?|true|false|null", RegexOptions.Compiled);

    /// <summary>Applies edits to raw bytes (no structure assumed).</summary>
    public static byte[] ApplyToBytes(byte[] bytes, IEnumerable<Mutation> mutations)
    {
        var data = new List<byte>(bytes);
        foreach (var m in mutations)
        {
            int at = data.Count == 0 ? 0 : m.Position % data.Count;
            switch (m.Kind % 5)
            {
                case 0: if (data.Count > 0) data[at] ^= (byte)(m.Value | 1); break;
                case 1: data.RemoveRange(m.Position % (data.Count + 1), data.Count - m.Position % (data.Count + 1)); break;
                case 2: data.InsertRange(at, Enumerable.Range(0, 1 + m.Value % 16).Select(i => (byte)(m.Value * 31 + i))); break;
                case 3:
                    var word = new byte[8];
                    BinaryPrimitives.WriteInt64LittleEndian(word, InterestingLong(m.Value));
                    for (int i = 0; i < 8 && at + i < data.Count; i++) data[at + i] = word[i];
                    break;
                default: if (data.Count > 0) data.RemoveAt(at); break;
            }
        }
        return [.. data];
    }

    /// <summary>Edits a JSON text at the token level (a number, string or literal replaced by another from the pools, or a
    /// character removed), so the result is often still JSON and reaches the reader's checks rather than the parser's.</summary>
    public static string ApplyToJson(string json, IEnumerable<Mutation> mutations)
    {
        foreach (var m in mutations)
        {
            var tokens = Tokens.Matches(json);
            if (tokens.Count == 0 || m.Kind % 4 == 3)
            {
                if (json.Length > 0) json = json.Remove(m.Position % json.Length, 1);
                continue;
            }
            var token = tokens[m.Position % tokens.Count];
            string replacement = (m.Kind % 4) switch
            {
                0 => Numbers[m.Value % Numbers.Length],
                1 => Values[m.Value % Values.Length],
                _ => token.Value.StartsWith('"') ? Values[m.Value % Values.Length] : Numbers[m.Value % Numbers.Length],
            };
            json = json[..token.Index] + replacement + json[(token.Index + token.Length)..];
        }
        return json;
    }

    public static long InterestingLong(int value) => (value % 12) switch
    {
        0 => 0, 1 => -1, 2 => 1, 3 => long.MaxValue, 4 => long.MinValue, 5 => int.MaxValue, 6 => 1L << 62, 7 => (1L << 62) + 50,
        8 => 4, 9 => 2, 10 => 100_277, _ => value,
    };

    public static string Describe(IEnumerable<Mutation> mutations) => string.Join(" ", mutations.Select(m => $"({m.Kind},{m.Position},{m.Value})"));

    public static string Utf8(byte[] bytes) => Encoding.UTF8.GetString(bytes);
}
