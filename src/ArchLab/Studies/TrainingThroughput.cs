using System.Diagnostics;
using ArchLab.Kernels;
using ArchLab.Models;
using ArchLab.Runtime;
using TorchSharp;
using static TorchSharp.torch;

namespace ArchLab.Studies;

/// <summary>One variant of <see cref="TrainingThroughput"/> (a precision, maybe a scan backend) and what it achieved.</summary>
/// <param name="TokensPerSecond">over all timed steps</param>
/// <param name="SecondsPerStep">mean of the timed steps; the three parts below add up to it</param>
/// <param name="ForwardSeconds">per step: forward and loss (with bf16 casts where the variant has them)</param>
/// <param name="BackwardSeconds">per step: the backward pass</param>
/// <param name="OptimizerSeconds">per step: AdamW's step and zeroing the gradients</param>
/// <param name="SlowestRoundTokensPerSecond">the spread of the rounds: the slowest round's tokens/s</param>
/// <param name="FastestRoundTokensPerSecond">the fastest round's tokens/s</param>
public sealed record ThroughputRow(string Precision, double TokensPerSecond, double SecondsPerStep, int Steps,
    double ForwardSeconds, double BackwardSeconds, double OptimizerSeconds,
    double SlowestRoundTokensPerSecond, double FastestRoundTokensPerSecond);

/// <summary>What <see cref="TrainingThroughput.Measure"/> measured, with the model's size and work per token.</summary>
/// <param name="FlopsPerToken">training FLOPs per token (<see cref="LanguageModel.TrainingFlopsPerToken"/>: 3 × forward)</param>
public sealed record ThroughputReport(long Parameters, long NonEmbeddingParameters, long FlopsPerToken, IReadOnlyList<ThroughputRow> Rows)
{
    /// <summary>Model GFLOP/s of a row: its tokens/s × training FLOPs per token.</summary>
    public double Gflops(ThroughputRow row) => row.TokensPerSecond * FlopsPerToken / 1e9;
}

/// <summary>
/// Training tokens/s (forward, backward, AdamW step) of one model in float32 and with bf16 matmuls, and optionally with
/// several scan backends, measured side by side: the variants alternate in short rounds within one process, so machine
/// noise hits all alike. Each step's forward, backward and optimizer parts are timed apart (libtorch's CPU ops return
/// when done, so the boundaries are exact), to show where the time goes.
/// </summary>
public static class TrainingThroughput
{
    /// <param name="scanBackends">Scan backends to compare (Mamba's selective scan and RWKV-4's WKV, set process-wide
    /// for each step); null: the current setting only. Every precision runs with every backend, alternating in rounds.</param>
    public static ThroughputReport Measure(ModelConfig config, int batchSize, int seqLen, int rounds = 3, int stepsPerRound = 5,
                                           bool includeBf16 = true, IReadOnlyList<ScanBackend>? scanBackends = null)
    {
        if (rounds < 1 || stepsPerRound < 1) throw new ArgumentException("rounds and steps per round must be positive");
        bool[] precisions = includeBf16 ? [false, true] : [false];
        var backends = scanBackends is { Count: > 0 } ? scanBackends.Select(b => (ScanBackend?)b).ToList() : [null];
        var variants = precisions.SelectMany(bf16 => backends.Select(backend => (Bf16: bf16, Backend: backend))).ToList();
        torch.manual_seed(0);
        using var model = new LanguageModel(config);
        using var optimizer = optim.AdamW(model.parameters(), lr: 1e-4);
        var parts = variants.ToDictionary(v => v, _ => new double[3]);
        var roundSeconds = variants.ToDictionary(v => v, _ => new List<double>());
        var x = randint(0, config.VocabSize, [batchSize, seqLen]);
        var y = randint(0, config.VocabSize, [batchSize, seqLen]);

        void Step((bool Bf16, ScanBackend? Backend) variant, double[] seconds)
        {
            var saved = ScanBackends.Default;
            if (variant.Backend is { } backend) ScanBackends.Default = backend;
            try
            {
                using var scope = NewDisposeScope();
                long start = Stopwatch.GetTimestamp();
                Tensor loss;
                using (Autocast.Bf16(variant.Bf16))
                    loss = nn.functional.cross_entropy(model.forward(x).flatten(0, 1), y.flatten());
                long forwardDone = Stopwatch.GetTimestamp();
                loss.backward();
                long backwardDone = Stopwatch.GetTimestamp();
                optimizer.step();
                optimizer.zero_grad();
                long end = Stopwatch.GetTimestamp();
                seconds[0] += Stopwatch.GetElapsedTime(start, forwardDone).TotalSeconds;
                seconds[1] += Stopwatch.GetElapsedTime(forwardDone, backwardDone).TotalSeconds;
                seconds[2] += Stopwatch.GetElapsedTime(backwardDone, end).TotalSeconds;
            }
            finally { ScanBackends.Default = saved; }
        }

        foreach (var v in variants) Step(v, new double[3]); // warm-up: allocator, kernels
        for (int round = 0; round < rounds; round++)
            foreach (var v in variants)
            {
                var clock = Stopwatch.StartNew();
                for (int i = 0; i < stepsPerRound; i++) Step(v, parts[v]);
                roundSeconds[v].Add(clock.Elapsed.TotalSeconds);
            }
        int steps = rounds * stepsPerRound;
        double tokensPerRound = (double)stepsPerRound * batchSize * seqLen;
        var rows = variants.Select(v =>
        {
            double total = roundSeconds[v].Sum();
            return new ThroughputRow(
                (v.Bf16 ? "bf16 matmuls" : "float32") + (v.Backend is { } b ? $", scan {b.Name()}" : ""),
                steps * (double)batchSize * seqLen / total, total / steps, steps,
                parts[v][0] / steps, parts[v][1] / steps, parts[v][2] / steps,
                tokensPerRound / roundSeconds[v].Max(), tokensPerRound / roundSeconds[v].Min());
        }).ToList();
        return new ThroughputReport(model.TotalParameters, model.NonEmbeddingParameters, model.TrainingFlopsPerToken(seqLen), rows);
    }
}
