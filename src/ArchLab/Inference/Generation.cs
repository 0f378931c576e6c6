using System.Diagnostics;
using ArchLab.Models;
using static TorchSharp.torch;

namespace ArchLab.Inference;

/// <summary>
/// Prefill in one parallel pass, then step one token at a time. Works for every architecture and hybrid. The steps run on
/// the lean engine by default (<see cref="EngineOptions"/>; the TorchSharp step path with <see cref="EngineOptions.Torch"/>),
/// and tokens are drawn by <see cref="Sampler"/>, so both engines give the same tokens for the same logits and seed.
/// </summary>
public static class Generation
{
    /// <param name="onToken">called with each new token as soon as it is drawn (streaming)</param>
    public static int[] Generate(LanguageModel model, IReadOnlyList<int> prompt, int maxNewTokens, SamplingOptions sampling,
                                 Action<int>? onToken = null, EngineOptions? engine = null) =>
        GenerateBatch(model, [prompt], maxNewTokens, sampling, onToken: onToken is null ? null : (_, token) => onToken(token), engine: engine)[0];

    /// <summary>
    /// Several prompts at once, one row each. Prompts of different lengths need no padding: the shortest length is
    /// prefilled for all rows in one parallel pass, then every row is stepped together, a row still inside its prompt
    /// being fed its next prompt token (its logits unused) and a row past it its sampled token. So every row sees
    /// exactly its own tokens at its own positions and gets the tokens it would get alone; with one prompt this is
    /// plain prefill + step. Rows draw from the one seeded generator in row order, so a seed fixes every row.
    /// </summary>
    /// <param name="stop">asked after each new token of a row with the row index and its tokens so far; true ends that row</param>
    /// <param name="onToken">called with (row, token) as each token is drawn</param>
    /// <param name="timings">filled with the prefill and decode wall times, when given</param>
    /// <param name="drawnIds">tokens are drawn among ids below this only (default: the whole vocabulary): a tokenizer with
    /// fewer ids than the model (a padded vocabulary, byte-level text on a bigger model) cannot decode the others</param>
    public static int[][] GenerateBatch(LanguageModel model, IReadOnlyList<IReadOnlyList<int>> prompts, int maxNewTokens,
        SamplingOptions sampling, Func<int, IReadOnlyList<int>, bool>? stop = null, Action<int, int>? onToken = null,
        EngineOptions? engine = null, GenerationTimings? timings = null, int? drawnIds = null)
    {
        sampling.Validate();
        engine = (engine ?? new EngineOptions()).Validate();
        if (prompts.Count == 0) throw new ArgumentException("give at least one prompt");
        if (prompts.Any(p => p.Count == 0)) throw new ArgumentException("every prompt must hold at least one token");
        if (maxNewTokens < 0) throw new ArgumentException($"max new tokens must be ≥ 0, got {maxNewTokens}");
        int vocab = model.Config.VocabSize;
        int drawn = drawnIds ?? vocab;
        if (drawn < 1 || drawn > vocab) throw new ArgumentException($"ids to draw from must be between 1 and the vocabulary size {vocab}, got {drawn}");
        foreach (var p in prompts)
            foreach (int t in p)
                if ((uint)t >= (uint)vocab) throw new ArgumentException($"prompt token {t} is outside the model's vocabulary (size {vocab})");
        int rows = prompts.Count;
        int shortest = prompts.Min(p => p.Count), longest = prompts.Max(p => p.Count);
        var outputs = Enumerable.Range(0, rows).Select(_ => new List<int>(maxNewTokens)).ToArray();
        var finished = new bool[rows];
        if (maxNewTokens == 0) return outputs.Select(o => o.ToArray()).ToArray();

        bool wasTraining = model.training;
        model.eval();
        var sampler = new Sampler(sampling);
        try
        {
            using var noGrad = no_grad();
            using var decoder = IStepDecoder.Create(model, engine, rows, longest + maxNewTokens);
            var prefix = prompts.SelectMany(p => p.Take(shortest).Select(t => (long)t)).ToArray();
            long clock = Stopwatch.GetTimestamp();
            var logits = decoder.Prefill(prefix, rows, shortest);
            timings?.Prefilled(rows * shortest, Stopwatch.GetElapsedTime(clock));
            clock = Stopwatch.GetTimestamp();
            int steps = 0;
            var next = new long[rows];
            for (int position = shortest; ; position++)
            {
                for (int r = 0; r < rows; r++)
                {
                    if (position < prompts[r].Count) { next[r] = prompts[r][position]; continue; }
                    if (finished[r]) continue; // keeps feeding its last token; its state is no longer read
                    int token = sampler.Next(logits.Slice(r * vocab, drawn));
                    outputs[r].Add(token);
                    onToken?.Invoke(r, token);
                    next[r] = token;
                    if (outputs[r].Count >= maxNewTokens || (stop?.Invoke(r, outputs[r]) ?? false)) finished[r] = true;
                }
                if (finished.All(f => f)) break;
                logits = decoder.Step(next);
                if (++steps == 1)
                {
                    // the first step pays one-time costs (JIT compilation, first touches): timed apart, as llama2.c does
                    timings?.FirstStep(Stopwatch.GetElapsedTime(clock));
                    clock = Stopwatch.GetTimestamp();
                }
            }
            timings?.Decoded(Math.Max(0, steps - 1), rows, Stopwatch.GetElapsedTime(clock));
        }
        finally
        {
            model.train(wasTraining);
        }
        return outputs.Select(o => o.ToArray()).ToArray();
    }
}
