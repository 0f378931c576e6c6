using ArchLab.Models;
using TorchSharp;
using static TorchSharp.torch;

namespace ArchLab.Inference;

/// <summary>Prefill the prompt in one parallel pass, then step one token at a time on the model's state.</summary>
public static class Generation
{
    /// <param name="onToken">called with each new token as soon as it is drawn (streaming)</param>
    public static int[] Generate(LanguageModel model, IReadOnlyList<int> prompt, int maxNewTokens, SamplingOptions sampling,
                                 Action<int>? onToken = null)
    {
        sampling.Validate();
        if (prompt.Count == 0) throw new ArgumentException("the prompt must hold at least one token");
        if (maxNewTokens < 0) throw new ArgumentException($"max new tokens must be ≥ 0, got {maxNewTokens}");
        bool wasTraining = model.training;
        model.eval();
        var device = model.embed.weight!.device;
        using var generator = new torch.Generator((ulong)sampling.Seed);
        var output = new List<int>(maxNewTokens);
        using (no_grad())
        using (var state = model.AllocateState(1, prompt.Count + maxNewTokens))
        {
            using var scope = NewDisposeScope();
            var ids = tensor(prompt.Select(t => (long)t).ToArray(), device: device).unsqueeze(0);
            var logits = model.Forward(ids, state).select(1, -1);
            for (int i = 0; i < maxNewTokens; i++)
            {
                int next = Sample(logits[0], sampling, generator);
                output.Add(next);
                onToken?.Invoke(next);
                if (i + 1 < maxNewTokens)
                    logits = model.Step(tensor(new long[] { next }, device: device), state);
            }
        }
        model.train(wasTraining);
        return output.ToArray();
    }

    /// <summary>Draws one token from logits [vocab].</summary>
    public static int Sample(Tensor logits, SamplingOptions sampling, torch.Generator generator)
    {
        using var scope = NewDisposeScope();
        var l = logits.to(ScalarType.Float32).cpu();
        if (sampling.Temperature == 0) return (int)l.argmax().item<long>();
        l = l / sampling.Temperature;
        if (sampling.TopK > 0 && sampling.TopK < l.shape[0])
        {
            var kth = l.topk(sampling.TopK).values[-1];
            l = l.masked_fill(l.lt(kth), double.NegativeInfinity);
        }
        if (sampling.TopP < 1)
        {
            var (sorted, order) = l.sort(descending: true);
            var cumulative = sorted.softmax(0).cumsum(0);
            // drop a token when the tokens before it already reach top-p (the first token always stays)
            var dropSorted = (cumulative - sorted.softmax(0)).ge(sampling.TopP);
            var drop = zeros_like(dropSorted).scatter(0, order, dropSorted); // back to vocabulary order
            l = l.masked_fill(drop, double.NegativeInfinity);
        }
        return (int)multinomial(l.softmax(0), 1, generator: generator).item<long>();
    }
}
