using ArchLab.IO;
using System.Buffers.Binary;
using TorchSharp;
using static TorchSharp.torch;

namespace ArchLab.Checkpoints;

/// <summary>
/// Reads and writes the safetensors format (https://github.com/huggingface/safetensors):
/// u64 little-endian header length N, N bytes of JSON header, then the raw little-endian tensor data.
/// Every violation of the format is reported as a <see cref="SafetensorsFormatException"/>.
/// </summary>
public static class Safetensors
{
    const long ChunkBytes = 64 << 20; // tensors are copied in slices, so none needs a Span over 2 GB

    /// <summary>Reads and validates a file: name → CPU tensor (dtype as stored, copied out of the file), plus metadata.</summary>
    public static SafetensorsFile Read(string path)
    {
        RequireLittleEndian();
        using var stream = OpenRead(path);
        var header = SafetensorsHeader.Read(stream, path);

        // The validated tensors tile the data buffer, so reading them in offset order reads it once, front to back.
        var tensors = new Dictionary<string, Tensor>(StringComparer.Ordinal);
        try
        {
            foreach (var info in header.Tensors.Values.OrderBy(t => t.DataBegin).ThenBy(t => t.DataEnd))
            {
                var tensor = torch.empty(info.Shape, info.DType);
                tensors.Add(info.Name, tensor);
                try { ForEachChunk(tensor, chunk => stream.ReadExactly(chunk)); }
                catch (EndOfStreamException) { throw new SafetensorsFormatException(path, "file ended inside its data (truncated while reading?)", info.Name); }
            }
        }
        catch
        {
            foreach (var tensor in tensors.Values) tensor.Dispose();
            throw;
        }
        return new SafetensorsFile(path, tensors, header.Metadata);
    }

    /// <summary>Reads and validates the header only: name → dtype, shape and data offsets.</summary>
    public static Dictionary<string, TensorInfo> ReadHeader(string path) => ReadHeader(path, out _);

    /// <summary>Reads and validates the header only, with the file's metadata.</summary>
    public static Dictionary<string, TensorInfo> ReadHeader(string path, out Dictionary<string, string> metadata)
    {
        using var stream = OpenRead(path);
        var header = SafetensorsHeader.Read(stream, path);
        metadata = header.Metadata;
        return header.Tensors;
    }

    /// <summary>
    /// Writes tensors (sorted by name, data contiguous, header padded to 8 bytes) atomically: into a temp file in the
    /// same directory, flushed to disk, then renamed over <paramref name="path"/>. On failure the target is untouched
    /// and the temp file removed.
    /// </summary>
    public static void Write(string path, IReadOnlyDictionary<string, Tensor> tensors, IReadOnlyDictionary<string, string>? metadata = null)
    {
        RequireLittleEndian();
        var entries = tensors.OrderBy(t => t.Key, StringComparer.Ordinal).ToList();
        var infos = Layout(entries);
        var header = SafetensorsHeader.Serialize(infos, metadata);

        AtomicFile.Write(path, stream =>
        {
            Span<byte> prefix = stackalloc byte[8];
            BinaryPrimitives.WriteUInt64LittleEndian(prefix, (ulong)header.Length);
            stream.Write(prefix);
            stream.Write(header);
            foreach (var (_, tensor) in entries)
            {
                using var scope = torch.NewDisposeScope();
                var dense = tensor.detach().cpu().contiguous();
                ForEachChunk(dense, chunk => stream.Write(chunk));
            }
        });
    }

    static List<TensorInfo> Layout(List<KeyValuePair<string, Tensor>> entries)
    {
        var infos = new List<TensorInfo>(entries.Count);
        long offset = 0;
        foreach (var (name, tensor) in entries)
        {
            ArgumentNullException.ThrowIfNull(tensor, $"tensors[\"{name}\"]");
            if (name == SafetensorsHeader.MetadataKey)
                throw new ArgumentException($"'{name}' is reserved for metadata and cannot name a tensor.", "tensors");
            if (!SafetensorsHeader.TryGetDType(tensor.dtype, out _, out int size))
                throw new ArgumentException($"Tensor '{name}' has dtype {tensor.dtype}, which safetensors cannot store here.", "tensors");
            long length = checked(tensor.numel() * size);
            infos.Add(new TensorInfo(name, tensor.dtype, tensor.shape, offset, offset + length));
            offset += length;
        }
        return infos;
    }

    delegate void ChunkAction(Span<byte> chunk);

    /// <summary>Hands over the bytes of a contiguous CPU tensor in slices of at most <see cref="ChunkBytes"/>.</summary>
    static void ForEachChunk(Tensor contiguous, ChunkAction action)
    {
        long count = contiguous.numel();
        if (count == 0) return;
        long step = Math.Max(1, ChunkBytes / contiguous.element_size());
        using var flat = contiguous.view(-1);
        for (long start = 0; start < count; start += step)
        {
            using var slice = flat.narrow(0, start, Math.Min(step, count - start));
            action(slice.bytes);
        }
    }

    static FileStream OpenRead(string path)
    {
        InputFile.Require(path, "safetensors file");
        return new(path, FileMode.Open, FileAccess.Read, FileShare.Read, bufferSize: 0, FileOptions.SequentialScan);
    }

    static void RequireLittleEndian()
    {
        if (!BitConverter.IsLittleEndian)
            throw new PlatformNotSupportedException("Safetensors data is little-endian; this machine is not.");
    }
}
