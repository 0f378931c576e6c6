using System.Diagnostics;
using ArchLab.Mixers;
using ArchLab.Models;
using TorchSharp;
using static TorchSharp.torch;

namespace ArchLab.Studies;

/// <summary>One context position of <see cref="DecodeBenchmark"/>.</summary>
/// <param name="MsPerToken">median of the timed steps</param>
/// <param name="StateBytesAnalytic">the model's <see cref="LanguageModel.StateBytes"/> at this position</param>
/// <param name="StateBytesAllocated">bytes of the state tensors actually allocated (a KV cache holds its capacity:
/// position + the warm-up and timed steps)</param>
/// <param name="RssGrowthBytes">how much VmRSS grew while this position's state was allocated and advanced (measured;
/// allocator reuse makes it noisy for small states)</param>
/// <param name="PeakRssBytes">VmHWM of the whole process after this position's state was advanced, with the states of
/// the smaller positions still alive (a high-water mark: never goes down)</param>
/// <param name="EstimatedCMs">what a lean C decoder would need at least, from FLOPs and bytes per token and the measured
/// machine (see <see cref="MachineFigures"/>)</param>
public sealed record DecodePoint(string Arch, long Parameters, long Position, double MsPerToken, double MeanMsPerToken,
    long StateBytesAnalytic, long StateBytesAllocated, long RssGrowthBytes, long PeakRssBytes, double AdvanceSeconds,
    double FlopsPerToken, double BytesPerToken, double EstimatedCMs)
{
    public double TokensPerSecond => 1000 / MsPerToken;
}

/// <summary>
/// Per-token decode latency at growing context positions, batch 1. For each position p a state is allocated for
/// p + the warm-up and timed steps (a KV cache preallocated to that length, so it never grows while timed) and advanced
/// to p: recurrent states by chunked forward passes over random tokens (the real state after p tokens), KV caches by
/// writing random keys and values (a step's cost does not depend on what the cache holds, and a real prefill of 64k
/// tokens costs O(p²)). Then all models and positions are timed interleaved, in rounds of a few steps each, so that the
/// load of a shared machine falls on all of them alike; the median step is reported. Each step runs in its own dispose scope.
/// </summary>
public static class DecodeBenchmark
{
    /// <summary>
    /// Measures every (model, position) pair; the timing rounds go over all models and positions in turn, so that a
    /// shared machine's load falls on all of them alike and the ratios between them hold.
    /// </summary>
    public static IReadOnlyList<DecodePoint> Measure(IReadOnlyList<(string Arch, LanguageModel Model, IReadOnlyList<long> Positions)> runs,
        int rounds, int stepsPerRound, int warmup, MachineFigures machine, int chunk = 512, TextWriter? log = null)
    {
        using var noGrad = no_grad();
        torch.manual_seed(7);
        var cells = new List<(string Arch, LanguageModel Model, long Position, ModelState State, long Allocated, long RssGrowth, long Peak, double Seconds)>();
        try
        {
            foreach (var (arch, model, positions) in runs)
            {
                model.eval();
                foreach (long position in positions.Order())
                {
                    long rssBefore = ProcessMemory.CurrentBytes();
                    var clock = Stopwatch.StartNew();
                    var state = model.AllocateState(1, position + warmup + rounds * stepsPerRound);
                    cells.Add((arch, model, position, state, 0, 0, 0, 0));
                    Advance(model, state, position, chunk);
                    cells[^1] = (arch, model, position, state, state.Bytes, ProcessMemory.CurrentBytes() - rssBefore,
                                 ProcessMemory.PeakBytes(), clock.Elapsed.TotalSeconds);
                    log?.WriteLine($"  {arch} advanced to {position} in {clock.Elapsed.TotalSeconds:F1} s");
                }
            }
            // every step feeds the same token ('A' in a byte vocabulary): the cost does not depend on which
            var tokens = cells.Select(c => tensor(new long[] { Math.Min(65, c.Model.Config.VocabSize - 1) })).ToArray();
            for (int j = 0; j < cells.Count; j++)
                for (int i = 0; i < warmup; i++) { using var scope = NewDisposeScope(); cells[j].Model.Step(tokens[j], cells[j].State); }
            var times = cells.Select(_ => new List<double>()).ToArray();
            for (int r = 0; r < rounds; r++)
                for (int j = 0; j < cells.Count; j++)
                    for (int i = 0; i < stepsPerRound; i++)
                    {
                        using var scope = NewDisposeScope();
                        long start = Stopwatch.GetTimestamp();
                        cells[j].Model.Step(tokens[j], cells[j].State);
                        times[j].Add(Stopwatch.GetElapsedTime(start).TotalMilliseconds);
                    }
            foreach (var t in tokens) t.Dispose();
            var points = new List<DecodePoint>();
            for (int j = 0; j < cells.Count; j++)
            {
                var c = cells[j];
                var t = times[j].Order().ToArray();
                var (flops, bytes) = CostPerToken(c.Model, c.Position);
                double estimate = Math.Max(flops / machine.FlopsPerSecond, bytes / machine.BytesPerSecond) * 1000;
                points.Add(new DecodePoint(c.Arch, c.Model.TotalParameters, c.Position, t[t.Length / 2], t.Average(),
                    c.Model.StateBytes(1, c.Position), c.Allocated, c.RssGrowth, c.Peak, c.Seconds, flops, bytes, estimate));
            }
            return points;
        }
        finally
        {
            foreach (var c in cells) c.State.Dispose();
        }
    }

    /// <summary>Brings every layer state to <paramref name="position"/> tokens.</summary>
    static void Advance(LanguageModel model, ModelState state, long position, int chunk)
    {
        bool allCaches = state.Layers.All(s => s is KvCache);
        if (!allCaches && state.Layers.Any(s => s is KvCache))
            throw new ArgumentException("the decode benchmark runs one architecture at a time, not hybrids of attention and recurrent layers");
        for (long done = 0; done < position; done += chunk)
        {
            using var scope = NewDisposeScope();
            long n = Math.Min(chunk, position - done);
            if (allCaches)
                foreach (KvCache cache in state.Layers.Cast<KvCache>())
                    cache.Append(randn(1, cache.KvHeads, n, cache.HeadDim), randn(1, cache.KvHeads, n, cache.HeadDim));
            else
                model.Forward(randint(0, model.Config.VocabSize, [1, n]), state);
        }
    }

    /// <summary>
    /// What one decode step must do at least, batch 1, float32: 2 FLOPs per weight it multiplies by (all parameters
    /// but the embedding table, plus the head) and reads each such weight once; attention also reads the KV cache
    /// (2 FLOPs per cached element: q·k and p·v); a recurrent state is read and written once, ~4 FLOPs per element.
    /// </summary>
    public static (double Flops, double Bytes) CostPerToken(LanguageModel model, long position)
    {
        long weights = model.NonEmbeddingParameters + (long)model.Config.VocabSize * model.Config.Dim;
        double flops = 2.0 * weights, bytes = 4.0 * weights;
        long stateBytes = model.StateBytes(1, position);
        long stateElements = stateBytes / 4;
        bool attention = Enumerable.Range(0, model.Config.Layers).All(i => MixerRegistry.Canonical(model.Config.MixerOf(i)) == "transformer");
        if (attention) { flops += 2.0 * stateElements; bytes += stateBytes; }
        else { flops += 4.0 * stateElements; bytes += 2.0 * stateBytes; }
        return (flops, bytes);
    }

    /// <summary>Wall time of <see cref="Inference.Generation.Generate"/> for <paramref name="tokens"/> greedy tokens after a 16-token prompt.</summary>
    public static double GenerateSeconds(LanguageModel model, int tokens)
    {
        var prompt = Enumerable.Range(0, 16).Select(i => 32 + i).ToArray();
        var clock = Stopwatch.StartNew();
        Inference.Generation.Generate(model, prompt, tokens, new Inference.SamplingOptions { Temperature = 0 });
        return clock.Elapsed.TotalSeconds;
    }
}
