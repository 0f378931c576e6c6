using System.Buffers.Binary;
using ArchLab.Data;
using CsCheck;

namespace ArchLab.Tests.Fuzz;

/// <summary>The token-file reader on mutated files: it opens them or throws <see cref="InvalidDataException"/>, and a file
/// it opens holds exactly the promised tokens, all inside the vocabulary.</summary>
public sealed class TokenFileFuzzTests : IDisposable
{
    readonly string dir = Directory.CreateTempSubdirectory("archlab-fuzz-tok-").FullName;

    public void Dispose() => Directory.Delete(dir, recursive: true);

    static readonly byte[][] Bases = MakeBases();

    static byte[][] MakeBases()
    {
        string scratch = Path.Combine(Path.GetTempPath(), $"archlab-fuzz-base-{Guid.NewGuid():N}.tokens");
        var bases = new List<byte[]>();
        foreach (var (tokens, vocab) in new (int[], int)[]
                 {
                     ([.. Enumerable.Range(0, 50).Select(i => i * 7 % 256)], 256),
                     ([.. Enumerable.Range(0, 30).Select(i => 70_000 + i)], 100_277),
                     ([], 256),
                 })
        {
            TokenFile.Write(scratch, tokens, vocab, sourceByteCount: tokens.Length + 3);
            bases.Add(File.ReadAllBytes(scratch));
        }
        File.Delete(scratch);
        return [.. bases];
    }

    static readonly int[] FieldOffsets = [8, 12, 16, 24, 32, 36, 40, 48, 56];

    /// <summary>Header fields set to edge values, raw byte edits, and (optionally) the checksum recomputed so that data edits
    /// reach the vocabulary check instead of stopping at the checksum.</summary>
    static byte[] Mutate(int baseIndex, Mutation[] mutations, bool fixChecksum)
    {
        byte[] bytes = Bases[baseIndex % Bases.Length];
        var fieldEdits = mutations.Where(m => m.Kind % 2 == 0).ToArray();
        bytes = Mutation.ApplyToBytes(bytes, mutations.Where(m => m.Kind % 2 == 1));
        foreach (var m in fieldEdits)
        {
            int offset = FieldOffsets[m.Position % FieldOffsets.Length];
            long value = Mutation.InterestingLong(m.Value);
            bool int32 = offset is 8 or 12 or 32 or 36; // version, bytes per token, vocabulary size, reserved
            if (offset + (int32 ? 4 : 8) > bytes.Length) continue;
            if (int32) BinaryPrimitives.WriteInt32LittleEndian(bytes.AsSpan(offset), unchecked((int)value));
            else BinaryPrimitives.WriteInt64LittleEndian(bytes.AsSpan(offset), value);
        }
        if (fixChecksum && bytes.Length >= TokenFile.HeaderSize)
            BinaryPrimitives.WriteUInt64LittleEndian(bytes.AsSpan(40), TokenFile.Checksum(bytes.AsSpan(TokenFile.HeaderSize)));
        return bytes;
    }

    static readonly Gen<(int Base, Mutation[] Mutations, bool FixChecksum)> Inputs =
        Gen.Select(Gen.Int[0, 2], Mutation.Several, Gen.Bool, (b, m, f) => (b, m, f));

    [Fact]
    public void MutatedFilesOpenOrFailWithAnErrorNamingThem()
    {
        string path = Path.Combine(dir, "fuzz.tokens");
        var run = new FuzzRun("token-file reader", typeof(InvalidDataException));
        run.Sample(Inputs, input =>
        {
            File.WriteAllBytes(path, Mutate(input.Base, input.Mutations, input.FixChecksum));
            using var file = TokenFile.Open(path);
            var tokens = file.ToArray();
            Assert.Equal(file.Count, tokens.Length);
            Assert.All(tokens, t => Assert.InRange(t, 0, file.VocabSize - 1));
            Assert.True(file.SourceByteCount >= file.Count);
        }, FuzzRun.Iterations(quick: 2000, campaign: 5_000), print: i => $"base {i.Base}, fix checksum {i.FixChecksum}, {Mutation.Describe(i.Mutations)}");
    }
}
