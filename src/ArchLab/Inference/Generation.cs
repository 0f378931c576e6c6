using ArchLab.Models;
using TorchSharp;
using static TorchSharp.torch;

namespace ArchLab.Inference;

/// <summary>
/// Prefill in one parallel pass, then step one token at a time on the model's state. Works for every architecture and
/// hybrid: it only uses <see cref="LanguageModel.Forward(Tensor, ModelState?)"/> and <see cref="LanguageModel.Step"/>.
/// </summary>
public static class Generation
{
    /// <param name="onToken">called with each new token as soon as it is drawn (streaming)</param>
    public static int[] Generate(LanguageModel model, IReadOnlyList<int> prompt, int maxNewTokens, SamplingOptions sampling,
                                 Action<int>? onToken = null) =>
        GenerateBatch(model, [prompt], maxNewTokens, sampling, onToken: onToken is null ? null : (_, token) => onToken(token))[0];

    /// <summary>
    /// Several prompts at once, one row each. Prompts of different lengths need no padding: the shortest length is
    /// prefilled for all rows in one parallel pass, then every row is stepped together, a row still inside its prompt
    /// being fed its next prompt token (its logits unused) and a row past it its sampled token. So every row sees
    /// exactly its own tokens at its own positions and gets the tokens it would get alone; with one prompt this is
    /// plain prefill + step. Rows draw from the one seeded generator in row order, so a seed fixes every row.
    /// </summary>
    /// <param name="stop">asked after each new token of a row with the row index and its tokens so far; true ends that row</param>
    /// <param name="onToken">called with (row, token) as each token is drawn</param>
    public static int[][] GenerateBatch(LanguageModel model, IReadOnlyList<IReadOnlyList<int>> prompts, int maxNewTokens,
        SamplingOptions sampling, Func<int, IReadOnlyList<int>, bool>? stop = null, Action<int, int>? onToken = null)
    {
        sampling.Validate();
        if (prompts.Count == 0) throw new ArgumentException("give at least one prompt");
        if (prompts.Any(p => p.Count == 0)) throw new ArgumentException("every prompt must hold at least one token");
        if (maxNewTokens < 0) throw new ArgumentException($"max new tokens must be ≥ 0, got {maxNewTokens}");
        int rows = prompts.Count;
        int shortest = prompts.Min(p => p.Count), longest = prompts.Max(p => p.Count);
        var outputs = Enumerable.Range(0, rows).Select(_ => new List<int>(maxNewTokens)).ToArray();
        var finished = new bool[rows];
        if (maxNewTokens == 0) return outputs.Select(o => o.ToArray()).ToArray();

        bool wasTraining = model.training;
        model.eval();
        var device = model.embed.weight!.device;
        using var generator = new torch.Generator((ulong)sampling.Seed);
        try
        {
            using var noGrad = no_grad();
            using var state = model.AllocateState(rows, longest + maxNewTokens);
            var prefix = prompts.SelectMany(p => p.Take(shortest).Select(t => (long)t)).ToArray();
            Tensor logits;
            using (var ids = tensor(prefix, [rows, shortest], device: device))
            using (var all = model.Forward(ids, state))
                logits = all.select(1, -1).to(ScalarType.Float32).cpu().DetachFromDisposeScope();
            var next = new long[rows];
            for (int position = shortest; ; position++)
            {
                for (int r = 0; r < rows; r++)
                {
                    if (position < prompts[r].Count) { next[r] = prompts[r][position]; continue; }
                    if (finished[r]) continue; // keeps feeding its last token; its state is no longer read
                    using var rowLogits = logits[r];
                    int token = Sample(rowLogits, sampling, generator);
                    outputs[r].Add(token);
                    onToken?.Invoke(r, token);
                    next[r] = token;
                    if (outputs[r].Count >= maxNewTokens || (stop?.Invoke(r, outputs[r]) ?? false)) finished[r] = true;
                }
                if (finished.All(f => f)) break;
                logits.Dispose();
                using var scope = NewDisposeScope();
                logits = model.Step(tensor(next, device: device), state).to(ScalarType.Float32).cpu().DetachFromDisposeScope();
            }
            logits.Dispose();
        }
        finally
        {
            model.train(wasTraining);
        }
        return outputs.Select(o => o.ToArray()).ToArray();
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
