using ArchLab.Checkpoints;
using ArchLab.Engine;
using ArchLab.Mixers;
using ArchLab.Models;
using ArchLab.Tests.TestSupport;
using TorchSharp;
using Xunit.Abstractions;
using static TorchSharp.torch;

namespace ArchLab.Tests.Engine;

/// <summary>The lean engine against the TorchSharp model's step path: same logits (float32, 1e-5) step after step,
/// batches, threads, state handed over after a TorchSharp prefill, and the official golden logits.</summary>
public class LeanModelTests(ITestOutputHelper output)
{
    public static TheoryData<string> Architectures => new() { "transformer", "gqa", "rwkv4", "retnet", "retnet_gelu", "mamba", "mamba_odd_width", "hybrid", "learned_positions", "rwkv7", "rwkv7_hybrid" };

    /// <summary>A small random model of each kind; "hybrid" mixes four mixers; "rwkv7" has three layers (two read the
    /// first one's value) and distinct LoRA ranks; "rwkv7_hybrid" puts other mixers before and between its RWKV-7 layers
    /// (the value residual skips them); "mamba_odd_width" has 36 channels and 5 states, so its scan ends in a partial vector.
    /// RWKV-7 parameters are perturbed (<see cref="Rwkv7Perturbation"/>).</summary>
    public static LanguageModel TinyModel(string kind, int vocab = 61)
    {
        torch.manual_seed(11);
        var config = kind switch
        {
            "gqa" => new ModelConfig { VocabSize = vocab, Dim = 48, Layers = 2, Heads = 6, KvHeads = 2, TiedEmbeddings = true },
            "hybrid" => new ModelConfig { VocabSize = vocab, Dim = 32, Layers = 4, Heads = 4, LayerPattern = ["mamba", "transformer", "rwkv4", "retnet"] },
            "retnet_gelu" => new ModelConfig { Arch = "retnet", VocabSize = vocab, Dim = 32, Layers = 2, Heads = 2, ValueDim = 64, GluActivation = "gelu" },
            "learned_positions" => new ModelConfig { VocabSize = vocab, Dim = 32, Layers = 2, Heads = 4, PositionEmbedding = true, NoRope = true, ContextLength = 300 },
            "rwkv7" => new ModelConfig { Arch = kind, VocabSize = vocab, Dim = 32, Layers = 3, Heads = 4, DecayLora = 8, IclrLora = 6, ValueLora = 5, GateLora = 7 },
            "rwkv7_hybrid" => new ModelConfig { VocabSize = vocab, Dim = 32, Layers = 4, Heads = 4, LayerPattern = ["mamba", "rwkv7", "transformer", "rwkv7"] },
            "mamba_odd_width" => new ModelConfig { Arch = "mamba", VocabSize = vocab, Dim = 18, Layers = 2, Heads = 2, DState = 5 },
            _ => new ModelConfig { Arch = kind, VocabSize = vocab, Dim = 32, Layers = 2, Heads = 4 },
        };
        var model = new LanguageModel(config);
        if (kind.StartsWith("rwkv7", StringComparison.Ordinal)) Rwkv7Perturbation.Apply(model);
        model.eval();
        return model;
    }

    static long[][] RandomTokens(int batch, int steps, int vocab, int seed)
    {
        var random = new Random(seed);
        return Enumerable.Range(0, steps).Select(_ => Enumerable.Range(0, batch).Select(_ => (long)random.Next(vocab)).ToArray()).ToArray();
    }

    /// <summary>Steps the TorchSharp model and the engine side by side from <paramref name="torchState"/>/<paramref name="leanState"/>; returns the largest |logit difference|.</summary>
    static double StepBoth(LanguageModel model, LeanModel lean, ModelState torchState, LeanState leanState, long[][] tokens)
    {
        double worst = 0;
        using var noGrad = no_grad();
        foreach (var step in tokens)
        {
            using var scope = NewDisposeScope();
            var expected = model.Step(tensor(step), torchState).data<float>().ToArray();
            var actual = lean.Step(step.Select(t => (int)t).ToArray(), leanState);
            for (int i = 0; i < expected.Length; i++) worst = Math.Max(worst, Math.Abs(expected[i] - actual[i]));
        }
        return worst;
    }

    [Theory]
    [MemberData(nameof(Architectures))]
    public void Float32LogitsEqualTheTorchStepFor256Steps(string kind)
    {
        using var model = TinyModel(kind);
        using var lean = LeanModel.From(model);
        const int batch = 3, steps = 256;
        using var torchState = model.AllocateState(batch, steps);
        var leanState = lean.AllocateState(batch, steps);
        double worst = StepBoth(model, lean, torchState, leanState, RandomTokens(batch, steps, model.Config.VocabSize, 1));
        output.WriteLine($"{kind}: max |logit difference| {worst:E2} over {steps} steps");
        Assert.True(worst <= 1e-5, $"{kind}: max |logit difference| {worst:E2} over {steps} steps");
        Assert.Equal(steps, leanState.Position);
    }

    [Theory]
    [InlineData("transformer")]
    [InlineData("rwkv4")]
    [InlineData("retnet")]
    [InlineData("mamba")]
    [InlineData("hybrid")]
    [InlineData("rwkv7")]
    [InlineData("rwkv7_hybrid")]
    public void StateHandedOverAfterATorchPrefillContinuesExactly(string kind)
    {
        using var model = TinyModel(kind);
        using var lean = LeanModel.From(model);
        const int batch = 2, prefill = 40, steps = 24;
        using var torchState = model.AllocateState(batch, prefill + steps);
        using (no_grad())
        using (var ids = randint(0, model.Config.VocabSize, [batch, prefill]))
            model.Forward(ids, torchState).Dispose();
        var leanState = lean.AllocateState(batch, prefill + steps);
        lean.ImportState(torchState, leanState);
        Assert.Equal(prefill, leanState.Position);
        double worst = StepBoth(model, lean, torchState, leanState, RandomTokens(batch, steps, model.Config.VocabSize, 2));
        output.WriteLine($"{kind}: max |logit difference| {worst:E2} after a handed-over prefill");
        Assert.True(worst <= 1e-5, $"{kind}: max |logit difference| {worst:E2} after a handed-over prefill");
    }

    [Theory]
    [InlineData("transformer")]
    [InlineData("hybrid")]
    [InlineData("rwkv7")]
    public void TwoThreadsGiveTheSameBitsAsOne(string kind)
    {
        // big enough that matrix products, attention and RWKV-7's heads really split over both threads
        torch.manual_seed(3);
        var config = kind switch
        {
            "hybrid" => new ModelConfig { VocabSize = 300, Dim = 128, Layers = 4, Heads = 4, LayerPattern = ["mamba", "transformer", "rwkv4", "retnet"] },
            "rwkv7" => new ModelConfig { Arch = kind, VocabSize = 300, Dim = 128, Layers = 2, Heads = 4 },
            _ => new ModelConfig { VocabSize = 300, Dim = 128, Layers = 2, Heads = 4 },
        };
        using var model = new LanguageModel(config);
        if (kind == "rwkv7") Rwkv7Perturbation.Apply(model);
        using var one = LeanModel.From(model, threads: 1);
        using var two = LeanModel.From(model, threads: 2);
        var s1 = one.AllocateState(2, 600);
        var s2 = two.AllocateState(2, 600);
        foreach (var step in RandomTokens(2, 600, 300, 4))
        {
            var tokens = step.Select(t => (int)t).ToArray();
            var a = one.Step(tokens, s1).ToArray();
            var b = two.Step(tokens, s2).ToArray();
            Assert.Equal(a, b);
        }
    }

    /// <summary>After the first steps (JIT, static initialisers) a step allocates nothing on the managed heap.</summary>
    [Theory]
    [InlineData("rwkv7")]
    [InlineData("rwkv7_hybrid")]
    public void StepsAllocateNothing(string kind)
    {
        using var model = TinyModel(kind);
        using var lean = LeanModel.From(model);
        var state = lean.AllocateState(2, 64);
        int[] tokens = [1, 2];
        for (int i = 0; i < 8; i++) lean.Step(tokens, state);
        long before = GC.GetAllocatedBytesForCurrentThread();
        for (int i = 0; i < 32; i++) lean.Step(tokens, state);
        Assert.Equal(0, GC.GetAllocatedBytesForCurrentThread() - before);
    }

    [Fact]
    public void StepsPastTheAllocatedLengthOrOutsideTheVocabularyAreErrors()
    {
        using var model = TinyModel("transformer");
        using var lean = LeanModel.From(model);
        var state = lean.AllocateState(1, 2);
        lean.Step([1], state);
        Assert.Throws<ArgumentOutOfRangeException>(() => lean.Step([model.Config.VocabSize], state));
        lean.Step([2], state);
        var e = Assert.Throws<InvalidOperationException>(() => lean.Step([3], state));
        Assert.Contains("past the state's allocated length 2", e.Message);
        Assert.Throws<ArgumentException>(() => lean.Step([1, 2], lean.AllocateState(1, 4)));
    }

    [Fact]
    public void LearnedPositionsEndAtTheContextLength()
    {
        torch.manual_seed(1);
        using var model = new LanguageModel(new ModelConfig { VocabSize = 20, Dim = 16, Layers = 1, Heads = 2, PositionEmbedding = true, ContextLength = 3 });
        using var lean = LeanModel.From(model);
        var state = lean.AllocateState(1, 8);
        for (int i = 0; i < 3; i++) lean.Step([1], state);
        var e = Assert.Throws<ArgumentException>(() => lean.Step([1], state));
        Assert.Contains("context_length 3", e.Message);
    }

    /// <summary>The official golden logits in recurrent mode, float32 goldens, every architecture.</summary>
    [Theory]
    [InlineData("llama", "case1_d64_h4_mha", "logits_recurrent_f32", 1e-5)]
    [InlineData("mamba", "case1_d48_state8_expand2_tied", "logits_recurrent", 1e-5)]
    [InlineData("retnet", "case1_d48_h3_v96_swish", "logits_recurrent_f32", 1e-5)]
    [InlineData("rwkv4", "case1_d32_L2_ffn128", "logits_recurrent", 1e-5)]
    [InlineData("rwkv7", "case1_d64_h16_L2", "logits_recurrent", 1e-5)]
    [InlineData("mamba", "case3_attn_hybrid", "logits_parallel", 1e-5)] // MHA hybrid: the official code can only run its parallel pass
    public void MatchesOfficialRecurrentLogits(string arch, string name, string key, double tolerance)
    {
        var golden = new GoldenCase(arch, name);
        using var io = golden.ReadIo();
        using var model = ModelLoader.Load(golden.Dir);
        model.eval();
        using var lean = LeanModel.From(model);
        var ids = io["input_ids"];
        int batch = (int)ids.shape[0], time = (int)ids.shape[1];
        var tokens = ids.to(ScalarType.Int64).data<long>().ToArray();
        var expected = io[key].to(ScalarType.Float32).data<float>().ToArray();
        int vocab = (int)io[key].shape[2];
        var state = lean.AllocateState(batch, time);
        double worst = 0;
        for (int t = 0; t < time; t++)
        {
            var step = Enumerable.Range(0, batch).Select(b => (int)tokens[b * time + t]).ToArray();
            var logits = lean.Step(step, state);
            for (int b = 0; b < batch; b++)
                for (int v = 0; v < vocab; v++)
                    worst = Math.Max(worst, Math.Abs(logits[b * model.Config.VocabSize + v] - expected[(b * time + t) * vocab + v]));
        }
        output.WriteLine($"{arch}: max |logit difference| to the official recurrent logits {worst:E2}");
        Assert.True(worst <= tolerance, $"{arch}: max |logit difference| to the official recurrent logits {worst:E2}");
    }
}
