using System.Buffers.Binary;
using System.Collections;
using System.Text;
using System.Text.Json;
using ArchLab.Checkpoints;
using TorchSharp;
using static TorchSharp.torch;

namespace ArchLab.Tests.Checkpoints;

public sealed class SafetensorsTests : IDisposable
{
    readonly string _dir = Directory.CreateTempSubdirectory("archlab-safetensors-").FullName;

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    string PathOf(string name) => Path.Combine(_dir, name);

    // ---------- helpers ----------

    /// <summary>A tensor of the given dtype and shape filled with random bytes (0/1 for bool), so NaNs and odd bit patterns travel too.</summary>
    static Tensor RandomTensor(ScalarType dtype, long[] shape, int seed)
    {
        var tensor = torch.empty(shape, dtype);
        var bytes = new byte[tensor.numel() * tensor.element_size()];
        var random = new Random(seed);
        random.NextBytes(bytes);
        if (dtype == ScalarType.Bool) for (int i = 0; i < bytes.Length; i++) bytes[i] &= 1;
        tensor.bytes = bytes;
        return tensor;
    }

    /// <summary>A file laid out by hand: u64 LE header length, the header bytes, the data.</summary>
    string HandBuiltFile(byte[] header, byte[] data, string name = "hand.safetensors")
    {
        var file = new byte[8 + header.Length + data.Length];
        BinaryPrimitives.WriteUInt64LittleEndian(file, (ulong)header.Length);
        header.CopyTo(file, 8);
        data.CopyTo(file, 8 + header.Length);
        var path = PathOf(name);
        File.WriteAllBytes(path, file);
        return path;
    }

    string HandBuiltFile(string header, int dataLength) =>
        HandBuiltFile(Encoding.UTF8.GetBytes(header), new byte[dataLength]);

    /// <summary>JSON written with single quotes, for readable test data.</summary>
    static string J(string singleQuoted) => singleQuoted.Replace('\'', '"');

    static string HeaderJson(string path)
    {
        var file = File.ReadAllBytes(path);
        var length = (int)BinaryPrimitives.ReadUInt64LittleEndian(file);
        return Encoding.UTF8.GetString(file, 8, length);
    }

    string[] FilesInDir() => Directory.GetFileSystemEntries(_dir).Select(Path.GetFileName).Order().ToArray()!;

    // ---------- round trips ----------

    [Theory]
    [InlineData(ScalarType.Float32, "F32")]
    [InlineData(ScalarType.Float64, "F64")]
    [InlineData(ScalarType.Float16, "F16")]
    [InlineData(ScalarType.BFloat16, "BF16")]
    [InlineData(ScalarType.Int64, "I64")]
    [InlineData(ScalarType.Int32, "I32")]
    [InlineData(ScalarType.Int16, "I16")]
    [InlineData(ScalarType.Int8, "I8")]
    [InlineData(ScalarType.Byte, "U8")]
    [InlineData(ScalarType.Bool, "BOOL")]
    public void RoundTrip_IsBitwiseExact_ForEveryDType(ScalarType dtype, string stored)
    {
        using var original = RandomTensor(dtype, [3, 5], seed: (int)dtype);
        var path = PathOf("model.safetensors");
        Safetensors.Write(path, new Dictionary<string, Tensor> { ["w"] = original });

        Assert.Contains($"\"dtype\":\"{stored}\"", HeaderJson(path));
        using var file = Safetensors.Read(path);
        var read = file["w"];
        Assert.Equal(dtype, read.dtype);
        Assert.Equal([3L, 5L], read.shape);
        Assert.Equal(DeviceType.CPU, read.device_type);
        Assert.Equal(original.bytes.ToArray(), read.bytes.ToArray());
    }

    public static TheoryData<ScalarType, long[]> EmptyAndScalarCases()
    {
        var cases = new TheoryData<ScalarType, long[]>();
        foreach (var dtype in new[] { ScalarType.Float32, ScalarType.Float64, ScalarType.Float16, ScalarType.BFloat16, ScalarType.Int64,
                                      ScalarType.Int32, ScalarType.Int16, ScalarType.Int8, ScalarType.Byte, ScalarType.Bool })
        {
            cases.Add(dtype, []);
            cases.Add(dtype, [0]);
            cases.Add(dtype, [4, 0, 2]);
        }
        return cases;
    }

    [Theory]
    [MemberData(nameof(EmptyAndScalarCases))]
    public void RoundTrip_ScalarAndZeroSizeTensors(ScalarType dtype, long[] shape)
    {
        using var original = RandomTensor(dtype, shape, seed: 7);
        using var neighbour = RandomTensor(ScalarType.Float32, [2], seed: 8); // data after an empty tensor must still line up
        var path = PathOf("small.safetensors");
        Safetensors.Write(path, new Dictionary<string, Tensor> { ["a"] = original, ["b"] = neighbour });

        using var file = Safetensors.Read(path);
        Assert.Equal(dtype, file["a"].dtype);
        Assert.Equal(shape, file["a"].shape);
        Assert.Equal(original.bytes.ToArray(), file["a"].bytes.ToArray());
        Assert.Equal(neighbour.bytes.ToArray(), file["b"].bytes.ToArray());
    }

    [Fact]
    public void RoundTrip_KeepsMetadataAndManyTensors_AndNeedsNoFileAfterReading()
    {
        var tensors = Enumerable.Range(0, 12).ToDictionary(i => $"layer.{i}.weight", i => RandomTensor(ScalarType.Float32, [i + 1, 3], seed: i));
        var metadata = new Dictionary<string, string> { ["format"] = "pt", ["config"] = "{\"d_model\": 64}", ["ünïcode"] = "✓" };
        var path = PathOf("many.safetensors");
        Safetensors.Write(path, tensors, metadata);

        using var file = Safetensors.Read(path);
        File.Delete(path); // the tensors are copies, not views of the file
        Assert.Equal(metadata, file.Metadata);
        Assert.Equal(tensors.Keys.Order(), file.Tensors.Keys.Order());
        foreach (var (name, tensor) in tensors)
        {
            Assert.Equal(tensor.bytes.ToArray(), file[name].bytes.ToArray());
            tensor.Dispose();
        }
    }

    [Fact]
    public void Write_TakesNonContiguousAndGradTrackingTensors()
    {
        using var matrix = torch.arange(6, dtype: ScalarType.Float32).reshape(2, 3);
        using var transposed = matrix.t(); // not contiguous
        using var parameter = torch.ones(4, requires_grad: true);
        var path = PathOf("views.safetensors");
        Safetensors.Write(path, new Dictionary<string, Tensor> { ["t"] = transposed, ["p"] = parameter });

        using var file = Safetensors.Read(path);
        Assert.Equal([3L, 2L], file["t"].shape);
        Assert.Equal(new float[] { 0, 3, 1, 4, 2, 5 }, file["t"].data<float>().ToArray());
        Assert.Equal(new float[] { 1, 1, 1, 1 }, file["p"].data<float>().ToArray());
        Assert.False(file["p"].requires_grad);
    }

    [Fact]
    public void RoundTrip_TensorLargerThanOneCopyChunk()
    {
        // 68 MB: more than the 64 MB slice the reader and writer copy at a time, so a slice boundary falls inside it.
        using var big = torch.arange(17_000_000, dtype: ScalarType.Float32);
        var path = PathOf("big.safetensors");
        Safetensors.Write(path, new Dictionary<string, Tensor> { ["big"] = big });

        using var file = Safetensors.Read(path);
        using var same = torch.eq(big, file["big"]).all();
        Assert.True(same.item<bool>());
    }

    [Fact]
    public void Write_IsDeterministic_WhateverTheInsertionOrder()
    {
        using var a = RandomTensor(ScalarType.Float32, [3], seed: 1);
        using var b = RandomTensor(ScalarType.Int64, [2], seed: 2);
        var first = PathOf("first.safetensors");
        var second = PathOf("second.safetensors");
        Safetensors.Write(first, new Dictionary<string, Tensor> { ["b"] = b, ["a"] = a }, new Dictionary<string, string> { ["y"] = "1", ["x"] = "2" });
        Safetensors.Write(second, new Dictionary<string, Tensor> { ["a"] = a, ["b"] = b }, new Dictionary<string, string> { ["x"] = "2", ["y"] = "1" });
        Assert.Equal(File.ReadAllBytes(first), File.ReadAllBytes(second));
    }

    // ---------- layout ----------

    [Fact]
    public void Read_HandBuiltFile_FollowingTheSpec()
    {
        // Entries deliberately not in offset order; header padded with spaces; F32 little-endian 1.0, -2.5; I64 scalar 42.
        var header = J("{'__metadata__':{'format':'pt'},'b':{'dtype':'I64','shape':[],'data_offsets':[8,16]},'a':{'dtype':'F32','shape':[2],'data_offsets':[0,8]}}");
        header = header.PadRight((header.Length + 7) / 8 * 8, ' ');
        byte[] data = [0x00, 0x00, 0x80, 0x3F, 0x00, 0x00, 0x20, 0xC0, 42, 0, 0, 0, 0, 0, 0, 0];
        var path = HandBuiltFile(Encoding.UTF8.GetBytes(header), data);

        using var file = Safetensors.Read(path);
        Assert.Equal(new float[] { 1.0f, -2.5f }, file["a"].data<float>().ToArray());
        Assert.Equal(ScalarType.Int64, file["b"].dtype);
        Assert.Empty(file["b"].shape);
        Assert.Equal(42L, file["b"].item<long>());
        Assert.Equal("pt", file.Metadata["format"]);

        var infos = Safetensors.ReadHeader(path, out var metadata);
        Assert.Equal(("a", ScalarType.Float32, 0L, 8L), (infos["a"].Name, infos["a"].DType, infos["a"].DataBegin, infos["a"].DataEnd));
        Assert.Equal([2L], infos["a"].Shape);
        Assert.Equal((8L, 16L, 8L), (infos["b"].DataBegin, infos["b"].DataEnd, infos["b"].ByteLength));
        Assert.Equal("pt", metadata["format"]);
    }

    [Fact]
    public void Read_AcceptsUnpaddedHeaderAndNoMetadata()
    {
        var path = HandBuiltFile(Encoding.UTF8.GetBytes(J("{'x':{'dtype':'U8','shape':[3],'data_offsets':[0,3]}}")), [7, 8, 9]);
        using var file = Safetensors.Read(path);
        Assert.Equal(new byte[] { 7, 8, 9 }, file["x"].data<byte>().ToArray());
        Assert.Empty(file.Metadata);
    }

    [Fact]
    public void Write_LaysOutAlignedHeaderSortedByName_ThenContiguousData()
    {
        using var b = RandomTensor(ScalarType.Float32, [3], seed: 1);
        using var a = RandomTensor(ScalarType.Int64, [2, 2], seed: 2);
        using var c = RandomTensor(ScalarType.BFloat16, [0], seed: 3);
        var path = PathOf("layout.safetensors");
        Safetensors.Write(path, new Dictionary<string, Tensor> { ["b"] = b, ["c"] = c, ["a"] = a }, new Dictionary<string, string> { ["k"] = "v" });

        var bytes = File.ReadAllBytes(path);
        var n = (long)BinaryPrimitives.ReadUInt64LittleEndian(bytes);
        Assert.Equal(0, n % 8);
        var header = Encoding.UTF8.GetString(bytes, 8, (int)n);
        var json = header.TrimEnd(' ');
        Assert.EndsWith("}", json);
        Assert.True(header.Length - json.Length < 8, "padding is at most 7 spaces");

        using var document = JsonDocument.Parse(json);
        var names = document.RootElement.EnumerateObject().Select(p => p.Name).ToArray();
        Assert.Equal(["__metadata__", "a", "b", "c"], names);
        long[] Offsets(string name) => document.RootElement.GetProperty(name).GetProperty("data_offsets").EnumerateArray().Select(e => e.GetInt64()).ToArray();
        Assert.Equal([0L, 32L], Offsets("a"));
        Assert.Equal([32L, 44L], Offsets("b"));
        Assert.Equal([44L, 44L], Offsets("c"));

        Assert.Equal(8 + n + 44, bytes.Length);
        Assert.Equal(a.bytes.ToArray(), bytes.AsSpan((int)(8 + n), 32).ToArray());
        Assert.Equal(b.bytes.ToArray(), bytes.AsSpan((int)(8 + n + 32), 12).ToArray());
    }

    // ---------- malformed headers ----------

    public static TheoryData<string, int, string[]> MalformedHeaders() => new()
    {
        { "[]", 0, ["does not start with '{'"] },
        { " {}", 0, ["does not start with '{'"] },
        { "{\"w\":", 0, ["not valid JSON"] },
        { "{} x", 0, ["not valid JSON"] },
        { J("{'w':1}"), 0, ["'w'", "not a JSON object"] },
        { J("{'w':{'dtype':'F8','shape':[1],'data_offsets':[0,4]}}"), 4, ["'w'", "unknown dtype 'F8'"] },
        { J("{'w':{'dtype':'f32','shape':[1],'data_offsets':[0,4]}}"), 4, ["'w'", "unknown dtype 'f32'"] },
        { J("{'w':{'dtype':4,'shape':[1],'data_offsets':[0,4]}}"), 4, ["'w'", "'dtype' is not a string"] },
        { J("{'w':{'dtype':'F32','shape':[-1],'data_offsets':[0,4]}}"), 4, ["'w'", "'shape' entry -1 is not a non-negative integer"] },
        { J("{'w':{'dtype':'F32','shape':[1.5],'data_offsets':[0,4]}}"), 4, ["'w'", "'shape' entry 1.5 is not a non-negative integer"] },
        { J("{'w':{'dtype':'F32','shape':['1'],'data_offsets':[0,4]}}"), 4, ["'w'", "'shape' entry", "not a non-negative integer"] },
        { J("{'w':{'dtype':'F32','shape':1,'data_offsets':[0,4]}}"), 4, ["'w'", "'shape' is not an array"] },
        { J("{'w':{'shape':[1],'data_offsets':[0,4]}}"), 4, ["'w'", "missing field 'dtype'"] },
        { J("{'w':{'dtype':'F32','data_offsets':[0,4]}}"), 4, ["'w'", "missing field 'shape'"] },
        { J("{'w':{'dtype':'F32','shape':[1]}}"), 4, ["'w'", "missing field 'data_offsets'"] },
        { J("{'w':{'dtype':'F32','shape':[1],'data_offsets':[0,4],'offset':0}}"), 4, ["'w'", "unknown field 'offset'"] },
        { J("{'w':{'dtype':'F32','dtype':'F32','shape':[1],'data_offsets':[0,4]}}"), 4, ["'w'", "duplicate field 'dtype'"] },
        { J("{'w':{'dtype':'F32','shape':[1],'data_offsets':[0,4,8]}}"), 4, ["'w'", "'data_offsets' has 3 entries"] },
        { J("{'w':{'dtype':'F32','shape':[1],'data_offsets':[-4,0]}}"), 4, ["'w'", "'data_offsets' entry -4"] },
        { J("{'w':{'dtype':'F32','shape':[1],'data_offsets':[0,18446744073709551615]}}"), 4, ["'w'", "18446744073709551615 is not a non-negative integer"] },
        { J("{'w':{'dtype':'F32','shape':[0],'data_offsets':[4,0]}}"), 4, ["'w'", "begin 4 is after end 0"] },
        { J("{'w':{'dtype':'F32','shape':[2],'data_offsets':[0,8]}}"), 4, ["'w'", "end 8 is beyond the 4-byte data buffer"] },
        { J("{'w':{'dtype':'F32','shape':[2],'data_offsets':[0,4]}}"), 4, ["'w'", "hold 4 bytes", "needs 8"] },
        { J("{'w':{'dtype':'F32','shape':[4611686018427387904,4],'data_offsets':[0,4]}}"), 4, ["'w'", "overflows"] },
        { J("{'w':{'dtype':'F32','shape':[2305843009213693952],'data_offsets':[0,4]}}"), 4, ["'w'", "overflows"] },
        { J("{'a':{'dtype':'F32','shape':[2],'data_offsets':[0,8]},'b':{'dtype':'F32','shape':[1],'data_offsets':[4,8]}}"), 8, ["'b'", "overlap tensor 'a'"] },
        { J("{'a':{'dtype':'F32','shape':[2],'data_offsets':[0,8]},'b':{'dtype':'F32','shape':[2],'data_offsets':[0,8]}}"), 8, ["overlap tensor"] },
        { J("{'a':{'dtype':'F32','shape':[2],'data_offsets':[0,8]},'e':{'dtype':'F32','shape':[0],'data_offsets':[4,4]}}"), 8, ["'e'", "overlap tensor 'a'"] },
        { J("{'a':{'dtype':'F32','shape':[1],'data_offsets':[0,4]},'b':{'dtype':'F32','shape':[1],'data_offsets':[8,12]}}"), 12, ["'b'", "hole in the data buffer", "[4, 8)"] },
        { J("{'a':{'dtype':'F32','shape':[1],'data_offsets':[0,4]}}"), 8, ["hole in the data buffer", "last 4 bytes"] },
        { J("{'w':{'dtype':'F32','shape':[1],'data_offsets':[0,4]},'w':{'dtype':'F32','shape':[1],'data_offsets':[4,8]}}"), 8, ["duplicate tensor name 'w'"] },
        { J("{'w':{'dtype':'F32','shape':[1],'data_offsets':[0,4]},'\\u0077':{'dtype':'F32','shape':[1],'data_offsets':[4,8]}}"), 8, ["duplicate tensor name 'w'"] },
        { J("{'__metadata__':{'k':1}}"), 0, ["metadata value of 'k' is not a string"] },
        { J("{'__metadata__':['k']}"), 0, ["'__metadata__' is not a JSON object"] },
        { J("{'__metadata__':{'k':'a','k':'b'}}"), 0, ["duplicate metadata key 'k'"] },
        // issue 15 F1: an escaped lone surrogate is valid JSON but no .NET string
        { J("{'a\\ud800':{'dtype':'F32','shape':[1],'data_offsets':[0,4]}}"), 4, ["not valid Unicode"] },
        { J("{'w':{'dtype':'F\\udc00','shape':[1],'data_offsets':[0,4]}}"), 4, ["not valid Unicode"] },
        { J("{'__metadata__':{'k':'\\ud800'}}"), 0, ["not valid Unicode"] },
        // issue 15 F2: zero bytes, but libtorch's strides (zeros counted as ones) overflow
        { J("{'w':{'dtype':'F32','shape':[0,9223372036854775807,9223372036854775807],'data_offsets':[0,0]}}"), 0, ["'w'", "strides", "overflow"] },
        { J("{'w':{'dtype':'U8','shape':[0,4294967296,4294967296],'data_offsets':[0,0]}}"), 0, ["'w'", "strides", "overflow"] },
    };

    [Theory]
    [MemberData(nameof(MalformedHeaders))]
    public void Read_RejectsMalformedHeader_WithAClearMessage(string header, int dataLength, string[] phrases)
    {
        var path = HandBuiltFile(header, dataLength);
        foreach (var read in new Action[] { () => Safetensors.Read(path).Dispose(), () => Safetensors.ReadHeader(path) })
        {
            var error = Assert.Throws<SafetensorsFormatException>(read);
            Assert.Contains(path, error.Message);
            foreach (var phrase in phrases) Assert.Contains(phrase, error.Message);
        }
    }

    [Fact]
    public void Read_RejectsHeaderThatIsNotUtf8()
    {
        byte[] header = [(byte)'{', (byte)'"', 0xFF, 0xFE, (byte)'"', (byte)':', (byte)'1', (byte)'}'];
        var path = HandBuiltFile(header, []);
        var error = Assert.Throws<SafetensorsFormatException>(() => Safetensors.Read(path));
        Assert.Contains("not valid UTF-8", error.Message);
    }

    [Theory]
    [InlineData(0)]
    [InlineData(1)]
    [InlineData(7)]
    public void Read_RejectsFileShorterThanTheLengthPrefix(int length)
    {
        var path = PathOf("short.safetensors");
        File.WriteAllBytes(path, new byte[length]);
        var error = Assert.Throws<SafetensorsFormatException>(() => Safetensors.Read(path));
        Assert.Contains(path, error.Message);
        Assert.Contains("shorter than the 8-byte header length", error.Message);
    }

    [Theory]
    [InlineData(1UL << 63, "larger than the 100000000-byte limit")]
    [InlineData(ulong.MaxValue, "larger than the 100000000-byte limit")]
    [InlineData(100_000_001UL, "larger than the 100000000-byte limit")]
    [InlineData(100_000_000UL, "larger than the 16 bytes after the length prefix")]
    [InlineData(17UL, "larger than the 16 bytes after the length prefix")]
    public void Read_RejectsOversizedHeaderLength_WithoutAllocatingIt(ulong headerLength, string phrase)
    {
        var path = PathOf("huge-header.safetensors");
        var file = new byte[8 + 16];
        BinaryPrimitives.WriteUInt64LittleEndian(file, headerLength);
        "{}              "u8.CopyTo(file.AsSpan(8));
        File.WriteAllBytes(path, file);

        var before = GC.GetAllocatedBytesForCurrentThread();
        var error = Assert.Throws<SafetensorsFormatException>(() => Safetensors.ReadHeader(path));
        Assert.True(GC.GetAllocatedBytesForCurrentThread() - before < 1 << 20, "rejecting the header must not allocate its claimed length");
        Assert.Contains(phrase, error.Message);
    }

    [Fact]
    public void Read_TruncatedCopies_AlwaysFailWithFormatException()
    {
        using var a = RandomTensor(ScalarType.Float32, [3, 4], seed: 1);
        using var b = RandomTensor(ScalarType.BFloat16, [5], seed: 2);
        using var c = RandomTensor(ScalarType.Int64, [], seed: 3);
        using var d = RandomTensor(ScalarType.Bool, [0], seed: 4);
        var whole = PathOf("whole.safetensors");
        Safetensors.Write(whole, new Dictionary<string, Tensor> { ["a"] = a, ["b"] = b, ["c"] = c, ["d"] = d }, new Dictionary<string, string> { ["k"] = "v" });
        var bytes = File.ReadAllBytes(whole);

        var cut = PathOf("cut.safetensors");
        for (int length = 0; length < bytes.Length; length++)
        {
            File.WriteAllBytes(cut, bytes[..length]);
            var error = Assert.Throws<SafetensorsFormatException>(() => Safetensors.Read(cut).Dispose());
            Assert.Contains(cut, error.Message);
        }
    }

    // ---------- atomic write ----------

    sealed class ThrowingDictionary(string name, Tensor tensor) : IReadOnlyDictionary<string, Tensor>
    {
        public IEnumerator<KeyValuePair<string, Tensor>> GetEnumerator()
        {
            yield return new(name, tensor);
            throw new InvalidOperationException("enumeration failed midway");
        }
        IEnumerator IEnumerable.GetEnumerator() => GetEnumerator();
        public int Count => 2;
        public Tensor this[string key] => throw new KeyNotFoundException(key);
        public IEnumerable<string> Keys => this.Select(p => p.Key);
        public IEnumerable<Tensor> Values => this.Select(p => p.Value);
        public bool ContainsKey(string key) => throw new NotSupportedException();
        public bool TryGetValue(string key, out Tensor value) => throw new NotSupportedException();
    }

    (string Path, byte[] Bytes) ExistingCheckpoint()
    {
        using var tensor = RandomTensor(ScalarType.Float32, [8], seed: 11);
        var path = PathOf("checkpoint.safetensors");
        Safetensors.Write(path, new Dictionary<string, Tensor> { ["old"] = tensor });
        return (path, File.ReadAllBytes(path));
    }

    [Fact]
    public void Write_WhenEnumerationThrows_LeavesOldFileAndNoTemp()
    {
        var (path, before) = ExistingCheckpoint();
        using var tensor = RandomTensor(ScalarType.Float32, [4], seed: 12);

        Assert.Throws<InvalidOperationException>(() => Safetensors.Write(path, new ThrowingDictionary("new", tensor)));
        Assert.Equal(before, File.ReadAllBytes(path));
        Assert.Equal(["checkpoint.safetensors"], FilesInDir());
    }

    [Fact]
    public void Write_WhenATensorCannotBeStored_LeavesOldFileAndNoTemp()
    {
        var (path, before) = ExistingCheckpoint();
        using var good = RandomTensor(ScalarType.Float32, [4], seed: 12);
        using var complex = torch.zeros(2, dtype: ScalarType.ComplexFloat32);

        var error = Assert.Throws<ArgumentException>(() => Safetensors.Write(path, new Dictionary<string, Tensor> { ["a"] = good, ["z"] = complex }));
        Assert.Contains("'z'", error.Message);
        Assert.Equal(before, File.ReadAllBytes(path));
        Assert.Equal(["checkpoint.safetensors"], FilesInDir());
    }

    [Fact]
    public void Write_WhenTheFinalRenameFails_RemovesTheTempFile()
    {
        // The target is a directory: the data is fully written to the temp file, then the rename over it fails.
        var target = PathOf("is-a-directory");
        Directory.CreateDirectory(target);
        File.WriteAllText(Path.Combine(target, "keep.txt"), "kept");
        using var tensor = RandomTensor(ScalarType.Float32, [4], seed: 13);

        Assert.ThrowsAny<IOException>(() => Safetensors.Write(target, new Dictionary<string, Tensor> { ["w"] = tensor }));
        Assert.Equal("kept", File.ReadAllText(Path.Combine(target, "keep.txt")));
        Assert.Equal(["is-a-directory"], FilesInDir());
    }

    [Fact]
    public void Write_OverExistingFile_ReplacesItAndLeavesNoTemp()
    {
        var (path, before) = ExistingCheckpoint();
        using var tensor = RandomTensor(ScalarType.Int32, [3], seed: 14);
        Safetensors.Write(path, new Dictionary<string, Tensor> { ["new"] = tensor });

        Assert.NotEqual(before, File.ReadAllBytes(path));
        using var file = Safetensors.Read(path);
        Assert.False(file.Contains("old"));
        Assert.True(file.Contains("new"));
        Assert.Equal(["checkpoint.safetensors"], FilesInDir());
    }

    [Fact]
    public void Write_RejectsTheReservedMetadataName()
    {
        using var tensor = torch.zeros(1);
        var error = Assert.Throws<ArgumentException>(() => Safetensors.Write(PathOf("x.safetensors"), new Dictionary<string, Tensor> { ["__metadata__"] = tensor }));
        Assert.Contains("reserved", error.Message);
        Assert.Empty(FilesInDir());
    }

    // ---------- SafetensorsFile ----------

    [Fact]
    public void Indexer_NamesTheMissingTensorAndTheFile()
    {
        using var tensor = torch.zeros(1);
        var path = PathOf("one.safetensors");
        Safetensors.Write(path, new Dictionary<string, Tensor> { ["present"] = tensor });
        using var file = Safetensors.Read(path);

        var error = Assert.Throws<KeyNotFoundException>(() => file["absent"]);
        Assert.Contains("'absent'", error.Message);
        Assert.Contains(path, error.Message);
    }

    [Fact]
    public void Dispose_DisposesTheTensors()
    {
        using var tensor = torch.zeros(1);
        var path = PathOf("one.safetensors");
        Safetensors.Write(path, new Dictionary<string, Tensor> { ["w"] = tensor });
        var file = Safetensors.Read(path);
        var read = file["w"];
        file.Dispose();
        Assert.True(read.IsInvalid);
    }
}
