using System.Buffers.Binary;
using System.Text;
using ArchLab.Checkpoints;
using CsCheck;
using TorchSharp;
using static TorchSharp.torch;

namespace ArchLab.Tests.Fuzz;

/// <summary>The safetensors reader on mutated files: it reads them or throws <see cref="SafetensorsFormatException"/>,
/// never another exception and never a native crash.</summary>
public sealed class SafetensorsFuzzTests : IDisposable
{
    readonly string dir = Directory.CreateTempSubdirectory("archlab-fuzz-st-").FullName;

    public void Dispose() => Directory.Delete(dir, recursive: true);

    static readonly byte[][] Bases = MakeBases();

    static byte[][] MakeBases()
    {
        string scratch = Path.Combine(Path.GetTempPath(), $"archlab-fuzz-base-{Guid.NewGuid():N}.safetensors");
        var sets = new[]
        {
            new Dictionary<string, Tensor>
            {
                ["embed.weight"] = arange(12, dtype: ScalarType.Float32).reshape(3, 4),
                ["ids"] = tensor(new long[] { 1, 2, 3 }),
                ["b"] = ones(2, 2, dtype: ScalarType.BFloat16),
            },
            new Dictionary<string, Tensor> { ["empty"] = zeros(0, 3), ["scalar"] = tensor(2.5), ["mask"] = tensor(new[] { true, false }) },
            new Dictionary<string, Tensor>(),
        };
        var bases = new List<byte[]>();
        foreach (var set in sets)
        {
            Safetensors.Write(scratch, set, set.Count == 0 ? new Dictionary<string, string> { ["format"] = "pt" } : null);
            bases.Add(File.ReadAllBytes(scratch));
        }
        File.Delete(scratch);
        return [.. bases];
    }

    /// <summary>A base file edited either as raw bytes or at the JSON-token level of its header (length prefix kept right).</summary>
    static byte[] Mutate(int baseIndex, bool headerLevel, Mutation[] mutations)
    {
        byte[] bytes = Bases[baseIndex % Bases.Length];
        if (!headerLevel) return Mutation.ApplyToBytes(bytes, mutations);
        long headerLength = (long)BinaryPrimitives.ReadUInt64LittleEndian(bytes);
        string header = Encoding.UTF8.GetString(bytes, 8, (int)headerLength);
        byte[] edited = Encoding.UTF8.GetBytes(Mutation.ApplyToJson(header, mutations));
        var result = new byte[8 + edited.Length + (bytes.Length - 8 - (int)headerLength)];
        BinaryPrimitives.WriteUInt64LittleEndian(result, (ulong)edited.Length);
        edited.CopyTo(result, 8);
        bytes.AsSpan(8 + (int)headerLength).CopyTo(result.AsSpan(8 + edited.Length));
        return result;
    }

    static readonly Gen<(int Base, bool Header, Mutation[] Mutations)> Inputs =
        Gen.Select(Gen.Int[0, 2], Gen.Bool, Mutation.Several, (b, h, m) => (b, h, m));

    [Fact]
    public void MutatedFilesReadOrFailWithAFormatError()
    {
        string path = Path.Combine(dir, "fuzz.safetensors");
        var run = new FuzzRun("safetensors reader", typeof(SafetensorsFormatException));
        run.Sample(Inputs, input =>
        {
            File.WriteAllBytes(path, Mutate(input.Base, input.Header, input.Mutations));
            Safetensors.ReadHeader(path);
            using var file = Safetensors.Read(path);
            foreach (var (name, t) in file.Tensors) Assert.True(t.numel() >= 0, name);
        }, FuzzRun.Iterations(quick: 3000, campaign: 10_000), print: i => $"base {i.Base}, header {i.Header}, {Mutation.Describe(i.Mutations)}");
    }
}
