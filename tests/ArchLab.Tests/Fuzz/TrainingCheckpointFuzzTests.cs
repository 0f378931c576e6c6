using System.Security.Cryptography;
using System.Text;
using System.Text.Json;
using ArchLab.Checkpoints;
using ArchLab.Models;
using ArchLab.Tests.TestSupport;
using ArchLab.Training;
using CsCheck;
using TorchSharp;
using static TorchSharp.torch;

namespace ArchLab.Tests.Fuzz;

/// <summary>The trainer-checkpoint reader (manifest, model, train config, trainer state, optimizer moments) on mutated
/// checkpoints, most with the manifest's digests recomputed so the damage reaches the parsers: it loads them or throws
/// <see cref="CheckpointException"/>, <see cref="ConfigException"/> or <see cref="SafetensorsFormatException"/>.</summary>
public sealed class TrainingCheckpointFuzzTests : IDisposable
{
    readonly string dir = Directory.CreateTempSubdirectory("archlab-fuzz-ckpt-").FullName;

    public void Dispose() => Directory.Delete(dir, recursive: true);

    /// <summary>The files of one real checkpoint (a tiny run's step 2), by name.</summary>
    static readonly Dictionary<string, byte[]> Base = MakeBase();

    static Dictionary<string, byte[]> MakeBase()
    {
        string run = Path.Combine(Path.GetTempPath(), $"archlab-fuzz-run-{Guid.NewGuid():N}");
        var model = new ModelConfig { VocabSize = 32, Dim = 16, Layers = 1, Heads = 2, ContextLength = 8 };
        var train = new TrainConfig { Steps = 2, BatchSize = 2, SeqLen = 8, CheckpointEvery = 2, EvalEvery = 2, EvalBatches = 1, LogEvery = 1, WarmupSteps = 1 };
        var trainer = Trainer.Start(model, train, new RandomTrainingData(32, 2, 8), run, CPU);
        trainer.Run();
        trainer.Model.Dispose();
        string checkpoint = TrainingCheckpoint.Latest(run)!;
        var files = Directory.GetFiles(checkpoint).ToDictionary(path => Path.GetFileName(path), File.ReadAllBytes, StringComparer.Ordinal);
        Directory.Delete(run, recursive: true);
        return files;
    }

    static readonly string[] FileNames = [.. Base.Keys.Order(StringComparer.Ordinal)];

    static readonly Gen<(int File, Mutation[] Mutations, bool FixManifest)> Inputs =
        Gen.Select(Gen.Int[0, FileNames.Length - 1], Mutation.Several, Gen.Frequency((3, Gen.Const(true)), (1, Gen.Const(false))),
                   (f, m, fix) => (f, m, fix));

    void WriteMutated(int fileIndex, Mutation[] mutations, bool fixManifest)
    {
        string target = FileNames[fileIndex];
        foreach (var (name, bytes) in Base)
        {
            byte[] content = name != target ? bytes
                : name.EndsWith(".json", StringComparison.Ordinal) && mutations[0].Kind % 2 == 0
                    ? Encoding.UTF8.GetBytes(Mutation.ApplyToJson(Encoding.UTF8.GetString(bytes), mutations))
                    : Mutation.ApplyToBytes(bytes, mutations);
            File.WriteAllBytes(Path.Combine(dir, name), content);
        }
        if (fixManifest && target != "manifest.json") RewriteManifest();
    }

    /// <summary>Digests that match the files as they are now, so damage reaches the parsers behind the manifest check.</summary>
    void RewriteManifest()
    {
        var digests = FileNames.Where(n => n != "manifest.json")
            .ToDictionary(n => n, n => Convert.ToHexStringLower(SHA256.HashData(File.ReadAllBytes(Path.Combine(dir, n)))));
        File.WriteAllText(Path.Combine(dir, "manifest.json"), JsonSerializer.Serialize(digests));
    }

    /// <summary>The unmutated base loads, so the fuzz's failures come from the mutations.</summary>
    [Fact]
    public void TheBaseCheckpointLoads()
    {
        foreach (var (name, bytes) in Base) File.WriteAllBytes(Path.Combine(dir, name), bytes);
        Load(dir);
    }

    static void Load(string dir)
    {
        using var scope = NewDisposeScope();
        var (model, train, state) = TrainingCheckpoint.Load(dir);
        using (model)
        {
            using var optimizer = Trainer.CreateOptimizer(model, train);
            TrainingCheckpoint.LoadOptimizer(dir, optimizer);
            Assert.True(state.Step >= 0, "trainer state step");
        }
    }

    [Theory]
    [InlineData("{\"stepp\": 1}", "invalid trainer state")]
    [InlineData("{\"step\": -5}", "step -5")]
    [InlineData("{\"step\": 1,", "invalid trainer state: not valid JSON")]
    [InlineData("null", "empty trainer state")]
    public void ABadTrainerStateIsACheckpointErrorNamingTheFile(string json, string expected)
    {
        // Found by the fuzz below: a trainer_state.json whose digest matches but whose JSON does not fit threw JsonException.
        foreach (var (name, bytes) in Base) File.WriteAllBytes(Path.Combine(dir, name), bytes);
        File.WriteAllText(Path.Combine(dir, "trainer_state.json"), json);
        RewriteManifest();
        var e = Assert.Throws<CheckpointException>(() => Load(dir));
        Assert.Contains("trainer_state.json", e.Message);
        Assert.Contains(expected, e.Message);
    }

    [Fact]
    public void ACorruptedOptimizerTypeNameIsACheckpointError()
    {
        // Found by the fuzz below: TorchSharp's InvalidDataException ("Mismatched optimizer type") escaped LoadOptimizer.
        foreach (var (name, bytes) in Base) File.WriteAllBytes(Path.Combine(dir, name), bytes);
        string optimizer = Path.Combine(dir, "optimizer.bin");
        byte[] data = File.ReadAllBytes(optimizer);
        int at = data.AsSpan().IndexOf("AdamW"u8);
        Assert.True(at >= 0, "the optimizer stream names its type");
        data[at + 4] = (byte)'?';
        File.WriteAllBytes(optimizer, data);
        RewriteManifest();
        var e = Assert.Throws<CheckpointException>(() => Load(dir));
        Assert.Contains("optimizer.bin", e.Message);
    }

    [Fact]
    public void MutatedCheckpointsLoadOrFailNamingTheFile()
    {
        var run = new FuzzRun("trainer-checkpoint reader", typeof(CheckpointException), typeof(ConfigException), typeof(SafetensorsFormatException));
        run.Sample(Inputs, input =>
        {
            WriteMutated(input.File, input.Mutations, input.FixManifest);
            Load(dir);
        }, FuzzRun.Iterations(quick: 300, campaign: 2_500),
           print: i => $"file {FileNames[i.File]}, fix manifest {i.FixManifest}, {Mutation.Describe(i.Mutations)}");
    }
}
