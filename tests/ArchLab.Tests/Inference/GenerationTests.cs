using ArchLab.Inference;
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
        var logits = tensor(new float[] { 5f, 4f, 3f, 0f, -1f, -2f });
        var generator = new torch.Generator(1);
        var topK = Enumerable.Range(0, 300).Select(_ => Generation.Sample(logits, new SamplingOptions { Temperature = 1, TopK = 2 }, generator)).ToHashSet();
        Assert.Subset(new HashSet<int> { 0, 1 }, topK);
        Assert.Equal(2, topK.Count);
        // softmax([5,4,3,...]) ≈ [0.66, 0.24, 0.09, ...]: top-p 0.8 keeps tokens 0 and 1 only
        var topP = Enumerable.Range(0, 300).Select(_ => Generation.Sample(logits, new SamplingOptions { Temperature = 1, TopP = 0.8 }, generator)).ToHashSet();
        Assert.Subset(new HashSet<int> { 0, 1 }, topP);
        Assert.Equal(2, topP.Count);
    }
}
