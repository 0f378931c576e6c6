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
    /// <summary>Copies the case with its weights and/or config changed, loads it as <paramref name="arch"/> and returns what was thrown.</summary>
    public static Exception LoadFailure(GoldenCase golden, string arch, Action<Dictionary<string, Tensor>>? weights, Action<JsonObject>? config)
    {
        using var checkpoint = new EditedCheckpoint(golden, $"{arch}-bad-");
        string dir = checkpoint.Write(config, weights);
        return Assert.ThrowsAny<Exception>(() => ModelLoader.Load(dir, arch).Dispose());
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
