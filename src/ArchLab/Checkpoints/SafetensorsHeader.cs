using System.Buffers.Binary;
using System.Text.Json;
using System.Text.Unicode;
using TorchSharp;
using static TorchSharp.torch;

namespace ArchLab.Checkpoints;

/// <summary>
/// The safetensors header: reading, validating and writing it.
/// Layout: u64 little-endian N, then N bytes of UTF-8 JSON (space-padded), then the data buffer.
/// </summary>
internal sealed record SafetensorsHeader(Dictionary<string, TensorInfo> Tensors, Dictionary<string, string> Metadata)
{
    public const long MaxHeaderBytes = 100_000_000;
    public const string MetadataKey = "__metadata__";

    static readonly (string Name, ScalarType Type, int Size)[] DTypes =
    [
        ("F64", ScalarType.Float64, 8), ("F32", ScalarType.Float32, 4), ("F16", ScalarType.Float16, 2),
        ("BF16", ScalarType.BFloat16, 2), ("I64", ScalarType.Int64, 8), ("I32", ScalarType.Int32, 4),
        ("I16", ScalarType.Int16, 2), ("I8", ScalarType.Int8, 1), ("U8", ScalarType.Byte, 1), ("BOOL", ScalarType.Bool, 1),
    ];

    public static bool TryGetDType(ScalarType type, out string name, out int size)
    {
        foreach (var d in DTypes)
        {
            if (d.Type == type) { (name, size) = (d.Name, d.Size); return true; }
        }
        (name, size) = ("", 0);
        return false;
    }

    /// <summary>Reads and validates the header; leaves the stream at the start of the data buffer.</summary>
    public static SafetensorsHeader Read(Stream stream, string path)
    {
        long fileLength = stream.Length;
        if (fileLength < 8)
            throw new SafetensorsFormatException(path, $"file is {fileLength} bytes, shorter than the 8-byte header length");

        Span<byte> prefix = stackalloc byte[8];
        stream.ReadExactly(prefix);
        ulong headerLength = BinaryPrimitives.ReadUInt64LittleEndian(prefix);
        if (headerLength > MaxHeaderBytes)
            throw new SafetensorsFormatException(path, $"header length {headerLength} is larger than the {MaxHeaderBytes}-byte limit");
        if (headerLength > (ulong)(fileLength - 8))
            throw new SafetensorsFormatException(path, $"header length {headerLength} is larger than the {fileLength - 8} bytes after the length prefix (truncated file?)");

        var json = new byte[headerLength];
        stream.ReadExactly(json);
        return Parse(json, dataLength: fileLength - 8 - (long)headerLength, path);
    }

    static SafetensorsHeader Parse(byte[] json, long dataLength, string path)
    {
        if (json.Length == 0 || json[0] != (byte)'{')
            throw new SafetensorsFormatException(path, "header does not start with '{'");
        if (!Utf8.IsValid(json))
            throw new SafetensorsFormatException(path, "header is not valid UTF-8");

        JsonDocument document;
        try { document = JsonDocument.Parse(json); }
        catch (JsonException e) { throw new SafetensorsFormatException(path, $"header is {IO.JsonErrors.Describe(e)}"); }

        using (document)
        {
            if (document.RootElement.ValueKind != JsonValueKind.Object)
                throw new SafetensorsFormatException(path, "header is not a JSON object");

            var tensors = new Dictionary<string, TensorInfo>(StringComparer.Ordinal);
            var metadata = new Dictionary<string, string>(StringComparer.Ordinal);
            try
            {
                foreach (var entry in UniqueProperties(document.RootElement, "tensor name", path, tensorName: null))
                {
                    if (entry.Name == MetadataKey) metadata = ParseMetadata(entry.Value, path);
                    else tensors.Add(entry.Name, ParseTensor(entry.Name, entry.Value, dataLength, path));
                }
            }
            catch (InvalidOperationException e) // JsonElement cannot turn an escaped lone surrogate ("\ud800") into a .NET string
            {
                throw new SafetensorsFormatException(path, $"header holds a string that is not valid Unicode (an unpaired surrogate escape?): {e.Message}");
            }
            CheckCoverage(tensors.Values, dataLength, path);
            return new SafetensorsHeader(tensors, metadata);
        }
    }

    /// <summary>JsonDocument keeps duplicate keys; the format forbids them.</summary>
    static IEnumerable<JsonProperty> UniqueProperties(JsonElement obj, string what, string path, string? tensorName)
    {
        var seen = new HashSet<string>(StringComparer.Ordinal);
        foreach (var property in obj.EnumerateObject())
        {
            if (!seen.Add(property.Name))
                throw new SafetensorsFormatException(path, $"duplicate {what} '{property.Name}'", tensorName);
            yield return property;
        }
    }

    static Dictionary<string, string> ParseMetadata(JsonElement value, string path)
    {
        if (value.ValueKind != JsonValueKind.Object)
            throw new SafetensorsFormatException(path, $"'{MetadataKey}' is not a JSON object");
        var metadata = new Dictionary<string, string>(StringComparer.Ordinal);
        foreach (var entry in UniqueProperties(value, "metadata key", path, tensorName: null))
        {
            if (entry.Value.ValueKind != JsonValueKind.String)
                throw new SafetensorsFormatException(path, $"metadata value of '{entry.Name}' is not a string");
            metadata.Add(entry.Name, entry.Value.GetString()!);
        }
        return metadata;
    }

    static TensorInfo ParseTensor(string name, JsonElement value, long dataLength, string path)
    {
        SafetensorsFormatException Bad(string problem) => new(path, problem, name);

        if (value.ValueKind != JsonValueKind.Object) throw Bad("entry is not a JSON object");
        string? dtype = null;
        long[]? shape = null, offsets = null;
        foreach (var field in UniqueProperties(value, "field", path, name))
        {
            switch (field.Name)
            {
                case "dtype":
                    dtype = field.Value.ValueKind == JsonValueKind.String ? field.Value.GetString() : throw Bad("'dtype' is not a string");
                    break;
                case "shape": shape = ParseNonNegativeIntegers(field.Value, "shape", Bad); break;
                case "data_offsets": offsets = ParseNonNegativeIntegers(field.Value, "data_offsets", Bad); break;
                default: throw Bad($"unknown field '{field.Name}'");
            }
        }
        if (dtype is null) throw Bad("missing field 'dtype'");
        if (shape is null) throw Bad("missing field 'shape'");
        if (offsets is null) throw Bad("missing field 'data_offsets'");

        var (_, type, size) = Array.Find(DTypes, d => d.Name == dtype);
        if (size == 0) throw Bad($"unknown dtype '{dtype}'");
        if (offsets.Length != 2) throw Bad($"'data_offsets' has {offsets.Length} entries, expected [begin, end]");
        var (begin, end) = (offsets[0], offsets[1]);
        if (begin > end) throw Bad($"data_offsets begin {begin} is after end {end}");
        if (end > dataLength) throw Bad($"data_offsets end {end} is beyond the {dataLength}-byte data buffer (truncated file?)");

        long expected;
        try { expected = checked(shape.Aggregate(1L, (product, dim) => product * dim) * size); }
        catch (OverflowException) { throw Bad($"byte size of shape [{string.Join(", ", shape)}] overflows"); }
        if (end - begin != expected)
            throw Bad($"data_offsets [{begin}, {end}] hold {end - begin} bytes, but shape [{string.Join(", ", shape)}] of {dtype} needs {expected}");
        // libtorch computes strides as products of the later dimensions with zeros counted as ones, so an empty tensor
        // such as [0, 2^63-1, 2^63-1] has 0 bytes yet overflows its strides (a native "Stride calculation overflowed").
        try { _ = checked(shape.Aggregate(1L, (product, dim) => product * Math.Max(dim, 1)) * size); }
        catch (OverflowException) { throw Bad($"strides of shape [{string.Join(", ", shape)}] overflow 64 bits"); }

        return new TensorInfo(name, type, shape, begin, end);
    }

    static long[] ParseNonNegativeIntegers(JsonElement value, string field, Func<string, SafetensorsFormatException> bad)
    {
        if (value.ValueKind != JsonValueKind.Array) throw bad($"'{field}' is not an array");
        var numbers = new long[value.GetArrayLength()];
        int i = 0;
        foreach (var item in value.EnumerateArray())
        {
            if (item.ValueKind != JsonValueKind.Number || !item.TryGetInt64(out numbers[i]) || numbers[i] < 0)
                throw bad($"'{field}' entry {item.GetRawText()} is not a non-negative integer");
            i++;
        }
        return numbers;
    }

    /// <summary>The tensors must tile the data buffer exactly: no overlaps, no holes, nothing left over.</summary>
    static void CheckCoverage(IEnumerable<TensorInfo> tensors, long dataLength, string path)
    {
        long position = 0;
        string? previous = null;
        foreach (var t in tensors.OrderBy(t => t.DataBegin).ThenBy(t => t.DataEnd))
        {
            if (t.DataBegin < position)
                throw new SafetensorsFormatException(path, $"data_offsets [{t.DataBegin}, {t.DataEnd}] overlap tensor '{previous}'", t.Name);
            if (t.DataBegin > position)
                throw new SafetensorsFormatException(path, $"hole in the data buffer: bytes [{position}, {t.DataBegin}) before it belong to no tensor", t.Name);
            position = t.DataEnd;
            previous = t.Name;
        }
        if (position != dataLength)
            throw new SafetensorsFormatException(path, $"hole in the data buffer: its last {dataLength - position} bytes belong to no tensor");
    }

    /// <summary>The header bytes (JSON, space-padded to a multiple of 8), tensors in the given order, laid out contiguously.</summary>
    public static byte[] Serialize(IReadOnlyList<TensorInfo> tensors, IReadOnlyDictionary<string, string>? metadata)
    {
        using var buffer = new MemoryStream();
        using (var json = new Utf8JsonWriter(buffer))
        {
            json.WriteStartObject();
            if (metadata is not null)
            {
                json.WriteStartObject(MetadataKey);
                foreach (var (key, value) in metadata.OrderBy(m => m.Key, StringComparer.Ordinal)) json.WriteString(key, value);
                json.WriteEndObject();
            }
            foreach (var t in tensors)
            {
                TryGetDType(t.DType, out var dtype, out _);
                json.WriteStartObject(t.Name);
                json.WriteString("dtype", dtype);
                json.WriteStartArray("shape");
                foreach (var dim in t.Shape) json.WriteNumberValue(dim);
                json.WriteEndArray();
                json.WriteStartArray("data_offsets");
                json.WriteNumberValue(t.DataBegin);
                json.WriteNumberValue(t.DataEnd);
                json.WriteEndArray();
                json.WriteEndObject();
            }
            json.WriteEndObject();
        }
        while (buffer.Length % 8 != 0) buffer.WriteByte((byte)' ');
        return buffer.ToArray();
    }
}
