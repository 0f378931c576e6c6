using ArchLab.Checkpoints;
using ArchLab.Inference;
using ArchLab.Kernels;
using ArchLab.Mixers;
using ArchLab.Models;
using ArchLab.Tests.TestSupport;
using TorchSharp;
using static TorchSharp.torch;

namespace ArchLab.Tests.Mixers;

/// <summary>
/// What every registered mixer must do, run for each name in <see cref="MixerRegistry.Names"/> (including the test-only
/// <see cref="ToyMixer"/>) × each scan backend where the mixer has a scan kernel, plus each MLP that is a mixer (RWKV's
/// channel mixing), and at the model level for each name and a hybrid of all of them. Float64 and small shapes: the forms must agree to rounding.
/// <list type="bullet">
/// <item>the whole sequence, token-by-token steps, chunks of several sizes and a split in two give the same outputs and
/// final states, from an empty state and from a state left by a prefix; and the same gradients;</item>
/// <item><see cref="Mixer.StateBytes"/> equals the bytes a state really allocates;</item>
/// <item>the spec's analytic parameter and state counts equal the built model's, and FLOPs are sane;</item>
/// <item>a checkpoint written and read back gives the same logits; a spec's importer is offered by the loader.</item>
/// </list>
/// RetNet's forms differ by a row scale that its group norm removes only up to eps, hence norm_eps = 1e-24 (see RetNetTests).
/// </summary>
public class MixerConformanceTests
{
    const int Batch = 2, Time = 13, Prefix = 5;
    const double Atol = 1e-9;

    static readonly ScanBackend[] ScanBackends = [ScanBackend.Reference, ScanBackend.Cpu, ScanBackend.Ilgpu];

    public static TheoryData<string, ScanBackend> MixersAndBackends
    {
        get
        {
            var data = new TheoryData<string, ScanBackend>();
            foreach (var spec in MixerRegistry.Specs)
                foreach (var backend in spec.UsesScanBackend ? ScanBackends : [ScanBackend.Auto])
                    data.Add(spec.Name, backend);
            foreach (string kind in StatefulMlps) data.Add(MlpPrefix + kind, ScanBackend.Auto);
            return data;
        }
    }

    public const string Hybrid = "hybrid of all";

    /// <summary>MLPs that read earlier tokens (RWKV's channel mixing) are mixers too: the suite runs them as "mlp:KIND".</summary>
    const string MlpPrefix = "mlp:";

    static IEnumerable<string> StatefulMlps => Mlps.Names.Where(kind =>
    {
        using var mlp = Mlps.Create(kind, Config(MixerRegistry.DefaultName), 0.02);
        return mlp is Mixer;
    }).ToArray();

    public static TheoryData<string> Models
    {
        get
        {
            var data = new TheoryData<string>();
            foreach (string name in MixerRegistry.Names) data.Add(name);
            data.Add(Hybrid);
            return data;
        }
    }

    static ModelConfig Config(string name) => new ModelConfig
    {
        Arch = name == Hybrid ? MixerRegistry.DefaultName : name,
        LayerPattern = name == Hybrid ? MixerRegistry.Names.ToArray() : null,
        Layers = name == Hybrid ? MixerRegistry.Names.Count : 2,
        Dim = 16, Heads = 2, VocabSize = 23, ContextLength = 32, NormEps = 1e-24,
    }.Validate();

    /// <summary>Layer 0's mixer of a model for <paramref name="name"/>, in float64, its parameters moved off their init so
    /// that gates are open and the state carries context.</summary>
    static Mixer Build(string name, ScanBackend backend, int seed = 1)
    {
        manual_seed(seed);
        var mixer = name.StartsWith(MlpPrefix, StringComparison.Ordinal)
            ? (Mixer)Mlps.Create(name[MlpPrefix.Length..], Config(MixerRegistry.DefaultName), 0.02)!
            : MixerRegistry.Create(name, Config(name), 0.02);
        var generator = new torch.Generator((ulong)seed);
        using (no_grad())
            foreach (var (_, p) in mixer.named_parameters())
                p.add_(randn(p.shape, p.dtype, generator: generator) * 0.2);
        mixer.to(ScalarType.Float64);
        mixer.ScanBackend = backend;
        return mixer;
    }

    static Tensor Input(long time, int seed) =>
        randn([Batch, time, 16], ScalarType.Float64, generator: new torch.Generator((ulong)seed));

    [Theory]
    [MemberData(nameof(MixersAndBackends))]
    public void StepsChunksAndSplitsEqualTheWholeSequence(string name, ScanBackend backend)
    {
        using var scope = NewDisposeScope();
        using var noGrad = no_grad();
        using var mixer = Build(name, backend);
        var x = Input(Time, seed: 2);
        var prefix = Input(Prefix, seed: 3);

        foreach (bool fromPrefix in new[] { false, true })
        {
            // A fresh copy of the start for every run (runs update a given state in place).
            MixerState? Start() => fromPrefix ? mixer.Forward(prefix, null, returnFinal: true).Final : null;
            string start = fromPrefix ? "after a prefix" : "from empty";

            var (whole, final) = mixer.Forward(x, Start(), returnFinal: true);
            Assert.NotNull(final);
            Assert.Equal((fromPrefix ? Prefix : 0) + Time, final!.Position);

            var (stepped, steppedState) = MixerRuns.Stepped(mixer, x, Start());
            TensorAssert.Close(whole, stepped, Atol, $"{name} {start}: steps");
            MixerRuns.SameState(final, steppedState, Atol, $"{name} {start}: steps");

            foreach (var sizes in new[] { new long[] { 1 }, [4], [5, 3], [6, Time - 6] })
            {
                string what = $"{name} {start}: chunks {string.Join(",", sizes)}";
                var (chunked, chunkedState) = MixerRuns.Chunked(mixer, x, Start(), sizes);
                TensorAssert.Close(whole, chunked, Atol, what);
                MixerRuns.SameState(final, chunkedState, Atol, what);
            }
        }
    }

    [Theory]
    [MemberData(nameof(MixersAndBackends))]
    public void ChunksAndSplitsGiveTheWholeSequencesGradients(string name, ScanBackend backend)
    {
        using var scope = NewDisposeScope();
        using var mixer = Build(name, backend);
        var x = Input(Time, seed: 4);
        var weights = Input(Time, seed: 5);

        var whole = MixerRuns.Gradients(mixer, x, weights, input => mixer.Forward(input).Output);
        Assert.Equal(mixer.named_parameters().Count() + 1, whole.Count); // every parameter gets a gradient
        foreach (var sizes in new[] { new long[] { 5 }, [6, Time - 6] })
        {
            var chunked = MixerRuns.Gradients(mixer, x, weights, input => MixerRuns.Chunked(mixer, input, null, sizes).Output);
            Assert.Equal(whole.Keys.Order(), chunked.Keys.Order());
            foreach (var (parameter, g) in whole)
            {
                Assert.True(g.abs().max().item<double>() > 0, $"{name}: zero gradient of {parameter}");
                double scale = Math.Max(1, g.abs().max().item<double>());
                TensorAssert.Close(g, chunked[parameter], Atol * scale, $"{name} chunks {string.Join(",", sizes)}: d/d{parameter}");
            }
        }
    }

    [Theory]
    [MemberData(nameof(MixersAndBackends))]
    public void StateBytesAreTheBytesAllocated(string name, ScanBackend backend)
    {
        using var scope = NewDisposeScope();
        using var mixer = Build(name, backend);
        foreach (long length in new long[] { 1, 7, 40 })
            foreach (var dtype in new[] { ScalarType.Float32, ScalarType.Float64 })
            {
                using var state = mixer.AllocateState(Batch, length, dtype, CPU);
                Assert.Equal(0, state.Position);
                Assert.Equal(mixer.StateBytes(Batch, length, dtype), state.Bytes);
            }
        using var noGrad = no_grad();
        using var final = mixer.Forward(Input(Time, seed: 6), null, returnFinal: true).Final!;
        Assert.Equal(mixer.StateBytes(Batch, Time, ScalarType.Float64), final.Bytes);
    }

    [Theory]
    [MemberData(nameof(Models))]
    public void AnalyticCountsMatchTheBuiltModel(string name)
    {
        var config = Config(name);
        using var model = new LanguageModel(config);
        Assert.Equal(ModelSize.Parameters(config), model.TotalParameters);
        Assert.Equal(ModelSize.StateBytes(config), model.StateBytes(1, config.ContextLength)); // float32 model
        for (int layer = 0; layer < config.Layers; layer++)
        {
            var spec = MixerRegistry.Spec(config.MixerOf(layer));
            Assert.Equal(spec.ParameterCount(config, layer), model.blocks[layer].Mixer.parameters().Sum(p => p.NumberOfElements));
            Assert.Equal(4 * spec.StateElements(config), model.blocks[layer].Mixer.StateBytes(1, config.ContextLength, ScalarType.Float32));
        }
        long previous = 0;
        foreach (long context in new long[] { 1, 16, 256, 4096 })
        {
            long flops = model.blocks.Sum(b => b.NonParameterFlopsPerToken(context));
            Assert.True(flops > 0 && flops >= previous, $"{name}: non-parameter FLOPs {flops} at context {context} (previous {previous})");
            previous = flops;
            Assert.True(model.TrainingFlopsPerToken(context) >= 6 * (model.NonEmbeddingParameters + (long)config.VocabSize * config.Dim));
        }
    }

    [Theory]
    [MemberData(nameof(Models))]
    public void EveryDecodeModeEqualsOneParallelPass(string name)
    {
        using var scope = NewDisposeScope();
        manual_seed(7);
        using var model = new LanguageModel(Config(name));
        model.to(ScalarType.Float64);
        var ids = randint(0, 23, [Batch, 20], generator: new torch.Generator(8));
        var parallel = LogitsRunner.Run(model, ids, DecodeMode.Parallel);
        foreach (var (mode, prefill, chunk) in new[] { (DecodeMode.Recurrent, 0, 8), (DecodeMode.PrefillStep, 9, 8), (DecodeMode.Chunked, 0, 6) })
            TensorAssert.Close(parallel, LogitsRunner.Run(model, ids, mode, prefill, chunk), Atol, $"{name}: {mode}");
    }

    [Theory]
    [MemberData(nameof(Models))]
    public void CheckpointRoundTripKeepsConfigAndLogits(string name)
    {
        string dir = Directory.CreateTempSubdirectory("archlab-conformance").FullName;
        try
        {
            using var scope = NewDisposeScope();
            manual_seed(9);
            using var model = new LanguageModel(Config(name));
            ModelCheckpoint.Save(dir, model);
            using var loaded = ModelLoader.Load(dir);
            Assert.Equal(model.Config.ToJson(), loaded.Config.ToJson());
            var ids = randint(0, 23, [1, 12], generator: new torch.Generator(10));
            using var noGrad = no_grad();
            TensorAssert.Close(model.forward(ids), loaded.forward(ids), 0, $"{name}: logits through a checkpoint");
        }
        finally { Directory.Delete(dir, recursive: true); }
    }

    /// <summary>A spec's importer is what the loader offers (<c>--format</c>); the import itself is checked against the
    /// official implementation's logits by each architecture's golden test (tests/ArchLab.Tests/Models/*GoldenTests).</summary>
    public static TheoryData<string> MixersWithImporters
    {
        get
        {
            var data = new TheoryData<string>();
            foreach (var spec in MixerRegistry.Specs.Where(s => s.Importer is not null)) data.Add(spec.Name);
            return data;
        }
    }

    [Theory]
    [MemberData(nameof(MixersWithImporters))]
    public void TheLoaderOffersTheSpecsImporter(string name)
    {
        var importer = MixerRegistry.Spec(name).Importer!;
        Assert.Contains(importer.Name, ModelLoader.Formats);
        Assert.Same(importer, ModelLoader.Importers.Single(i => i.Name == importer.Name));
    }
}
