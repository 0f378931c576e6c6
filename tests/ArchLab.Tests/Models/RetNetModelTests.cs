using ArchLab.Checkpoints;
using ArchLab.Inference;
using ArchLab.Models;
using ArchLab.Tests.TestSupport;
using TorchSharp;
using static TorchSharp.torch;

namespace ArchLab.Tests.Models;

/// <summary>A whole RetNet language model through every decode mode, and its own checkpoint format.</summary>
public class RetNetModelTests
{
    /// <summary>norm_eps 1e-24 so that the forms' different row scalings cancel in the group norm (see RetNetTests).</summary>
    static ModelConfig Config => new()
    {
        Arch = "retnet", VocabSize = 50, Dim = 24, Heads = 3, ValueDim = 48, Layers = 2, FfnHidden = 40, NormEps = 1e-24,
        RetentionChunkSize = 8,
    };

    [Fact]
    public void UsesTorchscaleBlocks()
    {
        using var model = new LanguageModel(Config);
        var names = model.named_parameters().Select(p => p.name).ToHashSet();
        foreach (var n in new[] { "blocks.0.mixer.g_proj.weight", "blocks.1.mlp.gate.weight", "blocks.1.mlp_norm.weight", "norm.weight", "head.weight" })
            Assert.Contains(n, names);
        Assert.Equal([48, 24], model.named_parameters().First(p => p.name == "blocks.0.mixer.v_proj.weight").parameter.shape);
    }

    [Fact]
    public void AllDecodeModesAgree()
    {
        using var model = new LanguageModel(Config);
        model.to(ScalarType.Float64);
        using var ids = randint(0, 50, [2, 37], generator: new torch.Generator(1));
        using var parallel = LogitsRunner.Run(model, ids, DecodeMode.Parallel);
        foreach (var mode in new[] { DecodeMode.Recurrent, DecodeMode.PrefillStep, DecodeMode.Chunked })
            foreach (int chunk in new[] { 8, 5 })
            {
                using var logits = LogitsRunner.Run(model, ids, mode, prefill: 16, chunk: chunk);
                TensorAssert.Close(parallel, logits, 1e-9, $"{mode} (chunk {chunk}) vs parallel");
            }
    }

    [Fact]
    public void SavesAndLoadsInArchLabFormat()
    {
        string dir = Path.Combine(Path.GetTempPath(), $"archlab-retnet-model-{Guid.NewGuid():N}");
        try
        {
            using var model = new LanguageModel(Config with { RetentionChunkwise = true, GluActivation = "gelu" });
            ModelCheckpoint.Save(dir, model);
            using var loaded = ModelLoader.Load(dir);
            Assert.Equal(model.Config, loaded.Config with { LayerPattern = model.Config.LayerPattern });
            using var ids = randint(0, 50, [1, 19], generator: new torch.Generator(2));
            using var a = model.forward(ids);
            using var b = loaded.forward(ids);
            TensorAssert.Close(a, b, 0, "reloaded logits");
        }
        finally
        {
            if (Directory.Exists(dir)) Directory.Delete(dir, recursive: true);
        }
    }
}
