using ArchLab.Data;
using ArchLab.Inference;
using ArchLab.Mixers;
using ArchLab.Models;
using TorchSharp;
using static TorchSharp.torch;

namespace ArchLab.Tests.Inference;

public class GenerationTests
{
    static LanguageModel Model()
    {
        torch.manual_seed(3);
        var model = new LanguageModel(new ModelConfig { VocabSize = 40, Dim = 32, Layers = 2, Heads = 4, KvHeads = 2 });
        // make the distribution peaked enough that greedy decoding is not a tie-break lottery
        using (no_grad()) model.head!.weight.mul_(20);
        return model;
    }

    /// <summary>A tiny random model of any architecture (or a hybrid) with a head sharp enough that greedy decoding
    /// has no near ties.</summary>
    static LanguageModel TinyModel(string arch, int vocab = 40)
    {
        torch.manual_seed(5);
        var config = arch == "hybrid"
            ? new ModelConfig { VocabSize = vocab, Dim = 32, Layers = 2, Heads = 4, LayerPattern = ["mamba", "transformer"] }
            : new ModelConfig { Arch = arch, VocabSize = vocab, Dim = 32, Layers = 2, Heads = 4 };
        var model = new LanguageModel(config);
        if (arch == "rwkv7") TestSupport.Rwkv7Perturbation.Apply(model);
        using (no_grad()) model.head!.weight.mul_(30);
        return model;
    }

    static List<int> GreedyByParallelPasses(LanguageModel model, IReadOnlyList<int> prompt, int count)
    {
        var tokens = prompt.ToList();
        using (no_grad())
            for (int i = 0; i < count; i++)
            {
                using var logits = model.forward(tensor(tokens.Select(t => (long)t).ToArray()).unsqueeze(0));
                tokens.Add((int)logits[0, -1].argmax().item<long>());
            }
        return tokens.Skip(prompt.Count).ToList();
    }

    [Theory]
    [InlineData("transformer")]
    [InlineData("rwkv4")]
    [InlineData("retnet")]
    [InlineData("mamba")]
    [InlineData("hybrid")]
    public void GreedyPrefillAndStepEqualsRepeatedParallelPasses(string arch)
    {
        using var model = TinyModel(arch);
        int[] prompt = [1, 5, 9, 2, 7];
        var generated = Generation.Generate(model, prompt, 12, new SamplingOptions { Temperature = 0 });
        Assert.Equal(GreedyByParallelPasses(model, prompt, 12), generated);
    }

    [Theory]
    [InlineData("transformer")]
    [InlineData("rwkv4")]
    [InlineData("retnet")]
    [InlineData("mamba")]
    public void BatchRowsOfDifferentLengthsGetTheTokensTheyGetAlone(string arch)
    {
        using var model = TinyModel(arch);
        IReadOnlyList<int>[] prompts = [[3, 1, 4, 1, 5, 9, 2], [2, 7], [1, 8, 2, 8]];
        var greedy = new SamplingOptions { Temperature = 0 };
        var batch = Generation.GenerateBatch(model, prompts, 10, greedy);
        for (int r = 0; r < prompts.Length; r++)
            Assert.Equal(Generation.Generate(model, prompts[r], 10, greedy), batch[r]);
    }

    [Fact]
    public void BatchSamplingIsFixedBySeed()
    {
        using var model = TinyModel("mamba");
        IReadOnlyList<int>[] prompts = [[3, 1, 4], [2, 7]];
        var a = Generation.GenerateBatch(model, prompts, 16, new SamplingOptions { Temperature = 1.5, Seed = 4 });
        var b = Generation.GenerateBatch(model, prompts, 16, new SamplingOptions { Temperature = 1.5, Seed = 4 });
        var c = Generation.GenerateBatch(model, prompts, 16, new SamplingOptions { Temperature = 1.5, Seed = 5 });
        Assert.Equal(a, b);
        Assert.NotEqual(a, c);
    }

    [Fact]
    public void StopStringEndsTheRowAndIsCutFromTheText()
    {
        using var model = TinyModel("transformer", vocab: 256);
        var tok = new ByteTokenizer();
        var greedy = new SamplingOptions { Temperature = 0 };
        string full = TextGeneration.Generate(model, tok, ["ab"], 30, greedy)[0];
        Assert.Equal(30, full.Length); // a byte model: one character per token here (ASCII or not, decoding maps each byte)
        string stop = full.Substring(10, 2);
        int first = full.IndexOf(stop, StringComparison.Ordinal);
        var streamed = new System.Text.StringBuilder();
        string cut = TextGeneration.Generate(model, tok, ["ab"], 30, greedy, [stop], (_, text) => streamed.Append(text))[0];
        Assert.Equal(full[..first], cut);
        Assert.Equal(cut, streamed.ToString()); // streaming never shows text that a stop string later removes
        // the rows generated together: one with the stop string stops, one without it does not
        var rows = Generation.GenerateBatch(model, [tok.Encode("ab"), tok.Encode("ab")], 30, greedy,
            stop: (row, output) => row == 0 && new StopStrings([stop], t => tok.Decode(t)).Reached(output));
        Assert.Equal(first + stop.Length, rows[0].Length);
        Assert.Equal(30, rows[1].Length);
    }

    [Theory]
    [InlineData(-0.5, 0, 1.0, "temperature")]
    [InlineData(double.NaN, 0, 1.0, "temperature")]
    [InlineData(1.0, -1, 1.0, "top-k")]
    [InlineData(1.0, 0, 0.0, "top-p")]
    [InlineData(1.0, 0, 1.5, "top-p")]
    public void BadSamplingArgumentsAreRejectedByName(double temperature, int topK, double topP, string named)
    {
        var e = Assert.Throws<ArgumentException>(() => new SamplingOptions { Temperature = temperature, TopK = topK, TopP = topP }.Validate());
        Assert.Contains(named, e.Message);
        using var model = TinyModel("transformer");
        Assert.Throws<ArgumentException>(() => Generation.Generate(model, [1], 3, new SamplingOptions { Temperature = temperature, TopK = topK, TopP = topP }));
    }

    [Fact]
    public void GreedyEqualsRepeatedParallelArgmax()
    {
        using var model = Model();
        int[] prompt = [1, 5, 9, 2];
        var generated = Generation.Generate(model, prompt, 20, new SamplingOptions { Temperature = 0 });

        var tokens = prompt.ToList();
        using (no_grad())
            for (int i = 0; i < 20; i++)
            {
                using var logits = model.forward(tensor(tokens.Select(t => (long)t).ToArray()).unsqueeze(0));
                tokens.Add((int)logits[0, -1].argmax().item<long>());
            }
        Assert.Equal(tokens.Skip(prompt.Length), generated);
    }

    [Fact]
    public void SameSeedSameText_DifferentSeedDifferentText()
    {
        using var model = Model();
        var a = Generation.Generate(model, [3], 40, new SamplingOptions { Temperature = 1.5, Seed = 11 });
        var b = Generation.Generate(model, [3], 40, new SamplingOptions { Temperature = 1.5, Seed = 11 });
        var c = Generation.Generate(model, [3], 40, new SamplingOptions { Temperature = 1.5, Seed = 12 });
        Assert.Equal(a, b);
        Assert.NotEqual(a, c);
    }

    [Fact]
    public void TopKAndTopPSampleOnlyAllowedTokens()
    {
        float[] logits = [5f, 4f, 3f, 0f, -1f, -2f];
        var topKSampler = new Sampler(new SamplingOptions { Temperature = 1, TopK = 2, Seed = 1 });
        var topK = Enumerable.Range(0, 300).Select(_ => topKSampler.Next(logits)).ToHashSet();
        Assert.Subset(new HashSet<int> { 0, 1 }, topK);
        Assert.Equal(2, topK.Count);
        // softmax([5,4,3,...]) ≈ [0.66, 0.24, 0.09, ...]: top-p 0.8 keeps tokens 0 and 1 only
        var topPSampler = new Sampler(new SamplingOptions { Temperature = 1, TopP = 0.8, Seed = 1 });
        var topP = Enumerable.Range(0, 300).Select(_ => topPSampler.Next(logits)).ToHashSet();
        Assert.Subset(new HashSet<int> { 0, 1 }, topP);
        Assert.Equal(2, topP.Count);
        // without filters every token turns up, at about its softmax probability
        var plain = new Sampler(new SamplingOptions { Temperature = 1, Seed = 2 });
        var counts = new int[6];
        for (int i = 0; i < 20000; i++) counts[plain.Next(logits)]++;
        Assert.InRange(counts[0] / 20000.0, 0.64, 0.69);
        Assert.InRange(counts[1] / 20000.0, 0.22, 0.26);
    }

    [Theory]
    [InlineData("transformer")]
    [InlineData("rwkv4")]
    [InlineData("retnet")]
    [InlineData("mamba")]
    [InlineData("hybrid")]
    [InlineData("rwkv7")]
    public void LeanAndTorchEnginesGiveTheSameTokens(string arch)
    {
        using var model = TinyModel(arch);
        IReadOnlyList<int>[] prompts = [[3, 1, 4, 1, 5, 9, 2], [2, 7], [1, 8, 2, 8]];
        foreach (var sampling in new[] { new SamplingOptions { Temperature = 0 }, new SamplingOptions { Temperature = 1.0, TopK = 10, Seed = 3 } })
        {
            var lean = Generation.GenerateBatch(model, prompts, 40, sampling, engine: new EngineOptions("lean"));
            var torchTokens = Generation.GenerateBatch(model, prompts, 40, sampling, engine: EngineOptions.Torch);
            Assert.Equal(torchTokens, lean);
        }
    }

    [Fact]
    public void StreamedTextEqualsTheFinalTextEvenWithBrokenUtf8()
    {
        // a random byte-level model emits invalid and multi-byte UTF-8 sequences; the pieces streamed must add up to the result
        torch.manual_seed(9);
        using var model = new LanguageModel(new ModelConfig { VocabSize = 256, Dim = 32, Layers = 1, Heads = 4 });
        var tok = new ByteTokenizer();
        foreach (var stops in new[] { Array.Empty<string>(), ["zz", "\n\n"] })
        {
            var streamed = new System.Text.StringBuilder();
            string text = TextGeneration.Generate(model, tok, ["x"], 400, new SamplingOptions { Temperature = 1.5, Seed = 5 }, stops,
                (_, piece) => streamed.Append(piece))[0];
            Assert.Equal(text, streamed.ToString());
        }
    }

    [Fact]
    public void PromptTokensOutsideTheVocabularyAreRefused()
    {
        using var model = TinyModel("transformer", vocab: 40);
        var e = Assert.Throws<ArgumentException>(() => Generation.Generate(model, [1, 45], 3, new SamplingOptions { Temperature = 0 }));
        Assert.Contains("outside the model's vocabulary (size 40)", e.Message);
    }

    [Fact]
    public void TokensAreDrawnOnlyAmongTheTokenizersIdsWhenTheModelHasMore()
    {
        using var model = TinyModel("transformer", vocab: 300);
        // the byte tokenizer has 256 ids; make ids 256..299 the likeliest so an unrestricted draw would pick them
        using (no_grad()) model.head!.weight.narrow(0, 256, 44).add_(model.head.weight.narrow(0, 0, 1) * 50);
        var sampling = new SamplingOptions { Temperature = 1, Seed = 3 };
        var unrestricted = Generation.Generate(model, [65, 66], 30, sampling);
        Assert.Contains(unrestricted, t => t >= 256); // the setup does what it says
        var restricted = Generation.GenerateBatch(model, [[65, 66]], 30, sampling, drawnIds: 256)[0];
        Assert.Equal(30, restricted.Length);
        Assert.All(restricted, t => Assert.InRange(t, 0, 255));
        // text generation restricts itself to the tokenizer's ids (it threw "Token 270 is not a byte" before)
        var text = TextGeneration.Generate(model, new ByteTokenizer(), ["AB"], 30, sampling);
        Assert.Equal(new ByteTokenizer().Decode(restricted), text[0]);
        Assert.Throws<ArgumentException>(() => Generation.GenerateBatch(model, [[65]], 3, sampling, drawnIds: 301));
    }

    /// <summary>The default engine ("auto") decodes a model whose mixer has no lean twin (the tests' toy mixer) with
    /// TorchSharp's step and says why; an explicit --engine lean is refused with the layer named.</summary>
    [Fact]
    public void AutoFallsBackToTorchForAMixerWithoutALeanTwin()
    {
        torch.manual_seed(9);
        using var model = new LanguageModel(new ModelConfig { Arch = ArchLab.Tests.Mixers.ToyMixer.Spec.Name, VocabSize = 40, Dim = 16, Layers = 2, Heads = 2 });
        var resolved = new EngineOptions().Resolve(model, out string? reason);
        Assert.Equal("torch", resolved.Engine);
        Assert.Contains("layer 0: ToyMixer has no lean engine implementation", reason);
        var sampling = new SamplingOptions { Temperature = 0 };
        Assert.Equal(Generation.Generate(model, [1, 2, 3], 6, sampling, engine: EngineOptions.Torch), Generation.Generate(model, [1, 2, 3], 6, sampling));
        var e = Assert.Throws<NotSupportedException>(() => Generation.Generate(model, [1, 2, 3], 6, sampling, engine: new EngineOptions("lean")));
        Assert.Contains("ToyMixer", e.Message);
        using var transformer = TinyModel("transformer");
        Assert.Equal("lean", new EngineOptions().Resolve(transformer, out reason).Engine);
        Assert.Null(reason);
    }
}
