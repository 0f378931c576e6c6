using System.Text.Json.Nodes;
using ArchLab.Checkpoints;
using ArchLab.Inference;
using ArchLab.Models;
using ArchLab.Tests.Checkpoints;
using ArchLab.Tests.TestSupport;
using static TorchSharp.torch;

namespace ArchLab.Tests.Models;

/// <summary>Checks shared by the golden tests of imported checkpoints: edited copies that must fail to load, and the
/// round trip through ArchLab's own layout.</summary>
static class GoldenCheckpoint
{
    /// <summary>Copies the case with its weights and/or config changed, loads it as <paramref name="arch"/> and asserts that
    /// it throws a <typeparamref name="T"/> whose message contains <paramref name="expected"/>.</summary>
    public static void AssertLoadFails<T>(GoldenCase golden, string arch, string expected,
                                          Action<Dictionary<string, Tensor>>? weights, Action<JsonObject>? config) where T : Exception
    {
        using var checkpoint = new EditedCheckpoint(golden, $"{arch}-bad-");
        string dir = checkpoint.Write(config, weights);
        var e = Assert.ThrowsAny<Exception>(() => ModelLoader.Load(dir, arch).Dispose());
        Assert.IsType<T>(e);
        Assert.Contains(expected, e.Message);
    }

    /// <summary>The case saved in ArchLab's layout reloads to bit-identical parallel logits.</summary>
    public static void AssertArchLabLayoutRoundTrips(GoldenCase golden)
    {
        string dir = Directory.CreateTempSubdirectory("archlab-layout-").FullName;
        try
        {
            using var io = golden.ReadIo();
            using var model = ModelLoader.Load(golden.Dir);
            ModelCheckpoint.Save(dir, model);
            using var reloaded = ModelLoader.Load(dir);
            using var expected = LogitsRunner.Run(model, io["input_ids"], DecodeMode.Parallel);
            using var actual = LogitsRunner.Run(reloaded, io["input_ids"], DecodeMode.Parallel);
            TensorAssert.Close(expected, actual, 0, "archlab round trip");
        }
        finally { if (Directory.Exists(dir)) Directory.Delete(dir, true); }
    }
}
