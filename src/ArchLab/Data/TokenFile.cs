using ArchLab.IO;
using System.IO.MemoryMappedFiles;
using System.Runtime.InteropServices;
using System.Text;

namespace ArchLab.Data;

/// <summary>
/// A binary file of token ids, read through a memory map (the tokens are never copied wholesale into managed memory).
/// Layout, little-endian: a 64-byte header, then <c>Count</c> tokens of <c>BytesPerToken</c> bytes each.
/// <code>
///  0  8 bytes  magic "ARCHTOK\0"
///  8  int32    format version (1)
/// 12  int32    bytes per token: 2 (uint16, used when VocabSize ≤ 65,536) or 4 (int32)
/// 16  int64    token count
/// 24  int64    UTF-8 byte count of the source text (for bits per byte)
/// 32  int32    vocabulary size of the tokenizer
/// 36  int32    reserved (0)
/// 40  uint64   checksum of the token bytes (see <see cref="Checksum"/>)
/// 48  16 bytes reserved (0)
/// </code>
/// A file that is truncated, has a bad header or a wrong checksum is rejected with an <see cref="InvalidDataException"/>
/// that names it.
/// </summary>
public sealed unsafe class TokenFile : ITokenSequence, IDisposable
{
    public const int HeaderSize = 64;
    public const int FormatVersion = 1;
    static readonly byte[] Magic = "ARCHTOK\0"u8.ToArray();

    readonly MemoryMappedFile _map;
    readonly MemoryMappedViewAccessor _view;
    readonly byte* _tokens;
    bool _disposed;

    public string Path { get; }
    public long Count { get; }
    public int BytesPerToken { get; }
    public int VocabSize { get; }
    public long SourceByteCount { get; }

    TokenFile(string path, MemoryMappedFile map, MemoryMappedViewAccessor view, Header header)
    {
        Path = path;
        _map = map;
        _view = view;
        Count = header.Count;
        BytesPerToken = header.BytesPerToken;
        VocabSize = header.VocabSize;
        SourceByteCount = header.SourceByteCount;
        byte* start = null;
        view.SafeMemoryMappedViewHandle.AcquirePointer(ref start);
        _tokens = start + view.PointerOffset + HeaderSize;
    }

    public static int BytesPerTokenFor(int vocabSize) => vocabSize <= 65_536 ? 2 : 4;

    /// <summary>Writes tokens atomically (temporary file + rename).</summary>
    public static void Write(string path, ReadOnlySpan<int> tokens, int vocabSize, long sourceByteCount)
    {
        int width = BytesPerTokenFor(vocabSize);
        byte[] data = new byte[(long)tokens.Length * width];
        if (width == 2)
        {
            var narrow = MemoryMarshal.Cast<byte, ushort>(data.AsSpan());
            for (int i = 0; i < tokens.Length; i++)
                narrow[i] = tokens[i] is >= 0 and < 65_536 ? (ushort)tokens[i] : throw new ArgumentOutOfRangeException(nameof(tokens), $"Token {tokens[i]} does not fit the vocabulary {vocabSize}.");
        }
        else MemoryMarshal.AsBytes(tokens).CopyTo(data);

        var header = new byte[HeaderSize];
        Magic.CopyTo(header, 0);
        BitConverter.TryWriteBytes(header.AsSpan(8), FormatVersion);
        BitConverter.TryWriteBytes(header.AsSpan(12), width);
        BitConverter.TryWriteBytes(header.AsSpan(16), (long)tokens.Length);
        BitConverter.TryWriteBytes(header.AsSpan(24), sourceByteCount);
        BitConverter.TryWriteBytes(header.AsSpan(32), vocabSize);
        BitConverter.TryWriteBytes(header.AsSpan(40), Checksum(data));
        AtomicFile.Write(path, stream => { stream.Write(header); stream.Write(data); });
    }

    /// <summary>Opens and validates a token file (length, header and, unless skipped, the checksum).</summary>
    /// <exception cref="InvalidDataException">The file is truncated or corrupted; the message names it.</exception>
    public static TokenFile Open(string path, bool verifyChecksum = true)
    {
        long length = new FileInfo(path).Length;
        if (length < HeaderSize) throw Corrupt(path, $"only {length} bytes, shorter than the {HeaderSize}-byte header (truncated)");
        var header = ReadHeader(path);
        long expected = HeaderSize + header.Count * header.BytesPerToken;
        if (length != expected) throw Corrupt(path, $"{length} bytes but the header promises {expected} (truncated or corrupted)");

        var map = MemoryMappedFile.CreateFromFile(path, FileMode.Open, null, 0, MemoryMappedFileAccess.Read);
        var view = map.CreateViewAccessor(0, 0, MemoryMappedFileAccess.Read);
        var file = new TokenFile(path, map, view, header);
        if (verifyChecksum && Checksum(file._tokens, header.Count * header.BytesPerToken) != header.Checksum)
        {
            file.Dispose();
            throw Corrupt(path, "the token checksum does not match (corrupted)");
        }
        return file;
    }

    public int this[long index]
    {
        get
        {
            if ((ulong)index >= (ulong)Count) throw new ArgumentOutOfRangeException(nameof(index));
            return BytesPerToken == 2 ? ((ushort*)_tokens)[index] : ((int*)_tokens)[index];
        }
    }

    public void CopyTo(long start, Span<long> destination)
    {
        if (start < 0 || start + destination.Length > Count)
            throw new ArgumentOutOfRangeException(nameof(start), $"Tokens [{start}, {start + destination.Length}) are outside 0..{Count} in {Path}.");
        if (BytesPerToken == 2)
        {
            var source = new ReadOnlySpan<ushort>((ushort*)_tokens + start, destination.Length);
            for (int i = 0; i < source.Length; i++) destination[i] = source[i];
        }
        else
        {
            var source = new ReadOnlySpan<int>((int*)_tokens + start, destination.Length);
            for (int i = 0; i < source.Length; i++) destination[i] = source[i];
        }
    }

    /// <summary>All tokens copied out (for tests and small files).</summary>
    public int[] ToArray()
    {
        var result = new int[Count];
        for (long i = 0; i < Count; i++) result[i] = this[i];
        return result;
    }

    public void Dispose()
    {
        if (_disposed) return;
        _disposed = true;
        _view.SafeMemoryMappedViewHandle.ReleasePointer();
        _view.Dispose();
        _map.Dispose();
    }

    /// <summary>A fast 64-bit multiply-xorshift hash of the token bytes (detects corruption; not cryptographic).</summary>
    public static ulong Checksum(ReadOnlySpan<byte> data)
    {
        fixed (byte* p = data) return Checksum(p, data.Length);
    }

    static ulong Checksum(byte* data, long length)
    {
        ulong hash = 0x9E3779B97F4A7C15UL ^ (ulong)length;
        long i = 0;
        for (; i + 8 <= length; i += 8) hash = Mix(hash, System.Runtime.CompilerServices.Unsafe.ReadUnaligned<ulong>(data + i));
        ulong tail = 0;
        for (int k = 0; i + k < length; k++) tail |= (ulong)data[i + k] << (8 * k);
        return Mix(hash, tail);
    }

    static ulong Mix(ulong hash, ulong word)
    {
        hash = (hash ^ word) * 0xFF51AFD7ED558CCDUL;
        return hash ^ (hash >> 32);
    }

    readonly record struct Header(int BytesPerToken, long Count, long SourceByteCount, int VocabSize, ulong Checksum);

    static Header ReadHeader(string path)
    {
        Span<byte> h = stackalloc byte[HeaderSize];
        using (var stream = File.OpenRead(path)) stream.ReadExactly(h);
        if (!h[..8].SequenceEqual(Magic)) throw Corrupt(path, "bad magic (not an ArchLab token file)");
        int version = BitConverter.ToInt32(h[8..]);
        if (version != FormatVersion) throw Corrupt(path, $"format version {version}, expected {FormatVersion}");
        int width = BitConverter.ToInt32(h[12..]);
        if (width is not (2 or 4)) throw Corrupt(path, $"bytes per token {width}, expected 2 or 4");
        long count = BitConverter.ToInt64(h[16..]);
        if (count < 0) throw Corrupt(path, $"negative token count {count}");
        return new Header(width, count, BitConverter.ToInt64(h[24..]), BitConverter.ToInt32(h[32..]), BitConverter.ToUInt64(h[40..]));
    }

    static InvalidDataException Corrupt(string path, string why) => new($"Token file {path} is invalid: {why}.");
}
