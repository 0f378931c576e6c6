using System.Buffers;
using System.Buffers.Binary;
using System.Numerics.Tensors;
using System.Runtime.InteropServices;
using ArchLab.IO;
using Microsoft.Win32.SafeHandles;

namespace ArchLab.Data;

/// <summary>
/// A binary file of token ids, read through positioned reads of an open handle (the tokens are never copied wholesale into
/// managed memory, and a file that is truncated or grows under a running reader gives an <see cref="InvalidDataException"/>
/// naming it, where a memory map would crash the process with SIGBUS).
/// Layout, little-endian: a 64-byte header, then <c>Count</c> tokens of <c>BytesPerToken</c> bytes each.
/// <code>
///  0  8 bytes  magic "ARCHTOK\0"
///  8  int32    format version (1)
/// 12  int32    bytes per token: 2 (uint16, used when VocabSize ≤ 65,536) or 4 (int32)
/// 16  int64    token count
/// 24  int64    UTF-8 byte count of the source text (for bits per byte; at least the token count)
/// 32  int32    vocabulary size of the tokenizer
/// 36  int32    reserved (0)
/// 40  uint64   checksum of the token bytes (see <see cref="Checksum"/>)
/// 48  16 bytes reserved (0)
/// </code>
/// A file that is truncated, has a bad header field, a token outside the vocabulary or a wrong checksum is rejected with an
/// <see cref="InvalidDataException"/> that names it and the problem.
/// </summary>
public sealed class TokenFile : ITokenSequence, IDisposable
{
    public const int HeaderSize = 64;
    public const int FormatVersion = 1;
    static readonly byte[] Magic = "ARCHTOK\0"u8.ToArray();
    const int ReadChunkBytes = 1 << 20;

    readonly SafeFileHandle _handle;
    readonly long _expectedLength;

    public string Path { get; }
    public long Count { get; }
    public int BytesPerToken { get; }
    public int VocabSize { get; }
    public long SourceByteCount { get; }

    TokenFile(string path, SafeFileHandle handle, Header header, long expectedLength)
    {
        Path = path;
        _handle = handle;
        _expectedLength = expectedLength;
        Count = header.Count;
        BytesPerToken = header.BytesPerToken;
        VocabSize = header.VocabSize;
        SourceByteCount = header.SourceByteCount;
    }

    public static int BytesPerTokenFor(int vocabSize) => vocabSize <= 65_536 ? 2 : 4;

    /// <summary>Writes tokens atomically (temporary file + rename).</summary>
    public static void Write(string path, ReadOnlySpan<int> tokens, int vocabSize, long sourceByteCount)
    {
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(vocabSize);
        if (sourceByteCount < tokens.Length)
            throw new ArgumentOutOfRangeException(nameof(sourceByteCount), $"{tokens.Length} tokens cannot come from {sourceByteCount} bytes of text.");
        int width = BytesPerTokenFor(vocabSize);
        byte[] data = new byte[(long)tokens.Length * width];
        for (int i = 0; i < tokens.Length; i++)
            if ((uint)tokens[i] >= (uint)vocabSize)
                throw new ArgumentOutOfRangeException(nameof(tokens), $"Token {tokens[i]} does not fit the vocabulary {vocabSize}.");
        if (width == 2)
        {
            var narrow = MemoryMarshal.Cast<byte, ushort>(data.AsSpan());
            for (int i = 0; i < tokens.Length; i++) narrow[i] = (ushort)tokens[i];
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

    /// <summary>Opens and validates a token file: length, every header field and, unless skipped, the checksum and that
    /// every token is inside the vocabulary (one pass over the tokens).</summary>
    /// <exception cref="InvalidDataException">The file is truncated or corrupted; the message names it.</exception>
    /// <exception cref="FileNotFoundException">No such file, or a folder.</exception>
    public static TokenFile Open(string path, bool verifyChecksum = true)
    {
        InputFile.Require(path, "token file");
        var handle = File.OpenHandle(path, FileMode.Open, FileAccess.Read, FileShare.Read);
        try
        {
            long length = RandomAccess.GetLength(handle);
            if (length < HeaderSize) throw Corrupt(path, $"only {length} bytes, shorter than the {HeaderSize}-byte header (truncated)");
            var header = ReadHeader(handle, path);
            long expected;
            try { expected = checked(HeaderSize + header.Count * header.BytesPerToken); }
            catch (OverflowException) { throw Corrupt(path, $"token count {header.Count} × {header.BytesPerToken} bytes overflows 64 bits"); }
            if (length != expected) throw Corrupt(path, $"{length} bytes but the header promises {expected} (truncated or corrupted)");
            var file = new TokenFile(path, handle, header, expected);
            if (verifyChecksum) file.VerifyTokens(header.Checksum);
            return file;
        }
        catch
        {
            handle.Dispose();
            throw;
        }
    }

    /// <summary>One pass over the token bytes: the checksum must match and every id must be below the vocabulary size.</summary>
    void VerifyTokens(ulong expectedChecksum)
    {
        long total = Count * BytesPerToken;
        var checksum = new ChecksumState(total);
        int? outside = null;
        byte[] buffer = ArrayPool<byte>.Shared.Rent(ReadChunkBytes);
        try
        {
            for (long done = 0; done < total;)
            {
                int n = (int)Math.Min(ReadChunkBytes, total - done);
                ReadExactly(buffer.AsSpan(0, n), HeaderSize + done);
                checksum.Add(buffer.AsSpan(0, n));
                int largest = Largest(buffer.AsSpan(0, n));
                if (outside is null && (largest >= VocabSize || largest < 0)) outside = largest;
                done += n;
            }
        }
        finally { ArrayPool<byte>.Shared.Return(buffer); }
        if (checksum.Finish() != expectedChecksum) throw Corrupt(Path, "the token checksum does not match (corrupted)");
        if (outside is int id) throw Corrupt(Path, $"token id {id} is outside the vocabulary of {VocabSize}");
    }

    /// <summary>The largest id in a piece, or a negative one if any is negative (both are outside the vocabulary).</summary>
    int Largest(ReadOnlySpan<byte> bytes)
    {
        if (bytes.IsEmpty) return 0;
        if (BytesPerToken == 2) return TensorPrimitives.Max(MemoryMarshal.Cast<byte, ushort>(bytes));
        var ids = MemoryMarshal.Cast<byte, int>(bytes);
        int min = TensorPrimitives.Min(ids);
        return min < 0 ? min : TensorPrimitives.Max(ids);
    }

    public int this[long index]
    {
        get
        {
            if ((ulong)index >= (ulong)Count) throw new ArgumentOutOfRangeException(nameof(index));
            Span<long> one = stackalloc long[1];
            CopyTo(index, one);
            return (int)one[0];
        }
    }

    public void CopyTo(long start, Span<long> destination)
    {
        if (start < 0 || start > Count - destination.Length)
            throw new ArgumentOutOfRangeException(nameof(start), $"Tokens [{start}, {start + destination.Length}) are outside 0..{Count} in {Path}.");
        int bytes = destination.Length * BytesPerToken;
        byte[] buffer = ArrayPool<byte>.Shared.Rent(bytes);
        try
        {
            var span = buffer.AsSpan(0, bytes);
            ReadExactly(span, HeaderSize + start * BytesPerToken);
            if (BytesPerToken == 2)
            {
                var source = MemoryMarshal.Cast<byte, ushort>(span);
                for (int i = 0; i < source.Length; i++) destination[i] = source[i];
            }
            else
            {
                var source = MemoryMarshal.Cast<byte, int>(span);
                for (int i = 0; i < source.Length; i++) destination[i] = source[i];
            }
        }
        finally { ArrayPool<byte>.Shared.Return(buffer); }
    }

    /// <summary>Reads bytes at an offset; a file whose length is no longer the one validated at open changed under this reader.</summary>
    void ReadExactly(Span<byte> destination, long offset)
    {
        ObjectDisposedException.ThrowIf(_handle.IsClosed, this);
        long length = RandomAccess.GetLength(_handle);
        if (length != _expectedLength) throw ChangedWhileOpen(length);
        while (destination.Length > 0)
        {
            int read = RandomAccess.Read(_handle, destination, offset);
            if (read == 0) throw ChangedWhileOpen(RandomAccess.GetLength(_handle));
            destination = destination[read..];
            offset += read;
        }
    }

    InvalidDataException ChangedWhileOpen(long length) =>
        Corrupt(Path, $"it changed while open: {length} bytes now, {_expectedLength} when it was opened (truncated or rewritten under a running reader?)");

    /// <summary>All tokens copied out (for tests and small files).</summary>
    public int[] ToArray()
    {
        var wide = new long[Count];
        CopyTo(0, wide);
        return [.. wide.Select(t => (int)t)];
    }

    public void Dispose() => _handle.Dispose();

    /// <summary>A fast 64-bit multiply-xorshift hash of the token bytes (detects corruption; not cryptographic).</summary>
    public static ulong Checksum(ReadOnlySpan<byte> data)
    {
        var state = new ChecksumState(data.Length);
        state.Add(data);
        return state.Finish();
    }

    /// <summary>The checksum computed over consecutive pieces (each but the last a multiple of 8 bytes long).</summary>
    struct ChecksumState(long length)
    {
        ulong hash = 0x9E3779B97F4A7C15UL ^ (ulong)length;
        ulong tail;

        public void Add(ReadOnlySpan<byte> piece)
        {
            int i = 0;
            for (; i + 8 <= piece.Length; i += 8) hash = Mix(hash, BinaryPrimitives.ReadUInt64LittleEndian(piece[i..]));
            for (int k = 0; i + k < piece.Length; k++) tail |= (ulong)piece[i + k] << (8 * k);
        }

        public readonly ulong Finish() => Mix(hash, tail);

        static ulong Mix(ulong hash, ulong word)
        {
            hash = (hash ^ word) * 0xFF51AFD7ED558CCDUL;
            return hash ^ (hash >> 32);
        }
    }

    readonly record struct Header(int BytesPerToken, long Count, long SourceByteCount, int VocabSize, ulong Checksum);

    static Header ReadHeader(SafeFileHandle handle, string path)
    {
        Span<byte> h = stackalloc byte[HeaderSize];
        if (RandomAccess.Read(handle, h, 0) != HeaderSize) throw Corrupt(path, "the header could not be read whole (truncated)");
        if (!h[..8].SequenceEqual(Magic)) throw Corrupt(path, "bad magic (not an ArchLab token file)");
        int version = BitConverter.ToInt32(h[8..]);
        if (version != FormatVersion) throw Corrupt(path, $"format version {version}, expected {FormatVersion}");
        int width = BitConverter.ToInt32(h[12..]);
        if (width is not (2 or 4)) throw Corrupt(path, $"bytes per token {width}, expected 2 or 4");
        long count = BitConverter.ToInt64(h[16..]);
        if (count < 0) throw Corrupt(path, $"negative token count {count}");
        long sourceBytes = BitConverter.ToInt64(h[24..]);
        if (sourceBytes < count)
            throw Corrupt(path, $"source byte count {sourceBytes} is below the token count {count} (every token covers at least one byte)");
        int vocab = BitConverter.ToInt32(h[32..]);
        if (vocab <= 0) throw Corrupt(path, $"vocabulary size {vocab} is not positive");
        if (width != BytesPerTokenFor(vocab))
            throw Corrupt(path, $"bytes per token {width} does not match the vocabulary size {vocab} (expected {BytesPerTokenFor(vocab)})");
        if (BitConverter.ToInt32(h[36..]) != 0 || h[48..].IndexOfAnyExcept((byte)0) >= 0)
            throw Corrupt(path, "reserved header bytes are not zero");
        return new Header(width, count, sourceBytes, vocab, BitConverter.ToUInt64(h[40..]));
    }

    static InvalidDataException Corrupt(string path, string why) => new($"Token file {path} is invalid: {why}.");
}
