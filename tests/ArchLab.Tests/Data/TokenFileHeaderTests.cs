using ArchLab.Data;

namespace ArchLab.Tests.Data;

/// <summary>Issue 15 F7–F9: every header field of a token file is checked (with checked arithmetic), tokens must fit the
/// vocabulary, and a file that is truncated or grows under an open reader gives an error naming it instead of a crash.</summary>
public sealed class TokenFileHeaderTests : IDisposable
{
    readonly string dir = Directory.CreateTempSubdirectory("archlab-tokenfile-").FullName;

    public void Dispose() => Directory.Delete(dir, recursive: true);

    /// <summary>100 tokens 0..99 (vocab 256, 2 bytes each, 100 source bytes) with header fields overwritten.</summary>
    string FileWithHeader(params (int Offset, long Value, int Bytes)[] patches)
    {
        string path = Path.Combine(dir, $"{Guid.NewGuid():N}.tokens");
        TokenFile.Write(path, [.. Enumerable.Range(0, 100)], vocabSize: 256, sourceByteCount: 100);
        var bytes = File.ReadAllBytes(path);
        foreach (var (offset, value, width) in patches)
            BitConverter.GetBytes(value).AsSpan(0, width).CopyTo(bytes.AsSpan(offset));
        File.WriteAllBytes(path, bytes);
        return path;
    }

    const int Width = 12, Count = 16, SourceBytes = 24, Vocab = 32, Reserved = 36, ReservedTail = 48;

    public static TheoryData<int, long, int, string> BadFields() => new()
    {
        { SourceBytes, 1, 8, "source byte count 1 is below the token count 100" },
        { SourceBytes, -5, 8, "source byte count -5" },
        { Vocab, 5, 4, "token id 99" },
        { Vocab, -1, 4, "vocabulary size -1 is not positive" },
        { Vocab, 0, 4, "vocabulary size 0 is not positive" },
        { Vocab, 100_000, 4, "bytes per token 2 does not match the vocabulary size 100000" },
        { Width, 3, 4, "bytes per token 3" },
        { Count, -1, 8, "negative token count -1" },
        { Count, 99, 8, "the header promises 262" },
        { Reserved, 7, 4, "reserved header bytes" },
        { ReservedTail + 9, 1, 1, "reserved header bytes" },
    };

    [Theory]
    [MemberData(nameof(BadFields))]
    public void EveryHeaderFieldIsChecked(int offset, long value, int bytes, string expected)
    {
        string path = FileWithHeader((offset, value, bytes));
        var e = Assert.Throws<InvalidDataException>(() => TokenFile.Open(path).Dispose());
        Assert.Contains(path, e.Message);
        Assert.Contains(expected, e.Message);
    }

    [Fact]
    public void ATokenCountWhoseByteSizeWrapsToTheFileLengthIsRefused()
    {
        // 64 + 4·(2^62 + 50) wraps to 264 bytes, this file's length: unchecked arithmetic accepted it (F8).
        string path = FileWithHeader((Width, 4, 4), (Count, (1L << 62) + 50, 8), (SourceBytes, long.MaxValue, 8), (Vocab, 100_277, 4));
        Assert.Equal(264, new FileInfo(path).Length);
        var e = Assert.Throws<InvalidDataException>(() => TokenFile.Open(path).Dispose());
        Assert.Contains("overflows", e.Message);
    }

    [Fact]
    public void AFileTruncatedUnderAnOpenReaderGivesAnErrorNamingIt()
    {
        string path = FileWithHeader();
        using var file = TokenFile.Open(path);
        var window = new long[10];
        file.CopyTo(50, window);
        Assert.Equal(Enumerable.Range(50, 10).Select(i => (long)i), window);

        using (var stream = new FileStream(path, FileMode.Open, FileAccess.Write, FileShare.ReadWrite)) stream.SetLength(100);
        var e = Assert.Throws<InvalidDataException>(() => file.CopyTo(50, window));
        Assert.Contains(path, e.Message);
        Assert.Contains("changed while open", e.Message);
        Assert.Throws<InvalidDataException>(() => file[0]);
    }

    [Fact]
    public void AFileThatGrowsUnderAnOpenReaderGivesAnErrorNamingIt()
    {
        string path = FileWithHeader();
        using var file = TokenFile.Open(path);
        using (var stream = new FileStream(path, FileMode.Append, FileAccess.Write, FileShare.ReadWrite)) stream.Write(new byte[8]);
        var e = Assert.Throws<InvalidDataException>(() => file.CopyTo(0, new long[4]));
        Assert.Contains("changed while open", e.Message);
    }

    [Fact]
    public void AFolderOrMissingFileIsNamed()
    {
        Assert.Contains("is a folder", Assert.Throws<FileNotFoundException>(() => TokenFile.Open(dir)).Message);
        Assert.Contains("does not exist", Assert.Throws<FileNotFoundException>(() => TokenFile.Open(Path.Combine(dir, "none"))).Message);
    }

    [Fact]
    public void WriteRefusesTokensOutsideTheVocabularyAndTooFewSourceBytes()
    {
        string path = Path.Combine(dir, "w.tokens");
        Assert.Throws<ArgumentOutOfRangeException>(() => TokenFile.Write(path, [1, 300], 256, 10));
        Assert.Throws<ArgumentOutOfRangeException>(() => TokenFile.Write(path, [1, -1], 100_277, 10));
        Assert.Throws<ArgumentOutOfRangeException>(() => TokenFile.Write(path, [1, 2, 3], 256, 2));
        Assert.False(File.Exists(path));
    }

    [Fact]
    public void ChecksumIsTheSameWhenComputedInPieces()
    {
        // Files written before the reader switched from a memory map to positioned reads must still verify.
        var data = Enumerable.Range(0, 3 * (1 << 20) + 13).Select(i => (byte)(i * 31)).ToArray();
        string path = Path.Combine(dir, "big.tokens");
        var tokens = data.Take(data.Length / 2 * 2).Chunk(2).Select(p => p[0] | (p[1] << 8)).ToArray();
        TokenFile.Write(path, tokens, 65_536, tokens.Length);
        using var file = TokenFile.Open(path);
        Assert.Equal(tokens, file.ToArray());
    }
}
