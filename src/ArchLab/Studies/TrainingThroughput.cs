using System.Diagnostics;
using ArchLab.Kernels;
using ArchLab.Models;
using ArchLab.Runtime;
using TorchSharp;
using static TorchSharp.torch;

namespace ArchLab.Studies;

/// <summary>One row of <see cref="TrainingThroughput"/>: a precision and what it achieved.</summary>
public sealed record ThroughputRow(string Precision, double TokensPerSecond, double SecondsPerStep, int Steps);

/// <summary>
/// Training tokens/s (forward, backward, AdamW step) of one model in float32 and with bf16 matmuls, and optionally with
/// several scan backends, measured side by side: the variants alternate in short rounds within one process, so machine
/// noise hits all alike.
/// </summary>
public static class TrainingThroughput
{
    /// <param name="scanBackends">Scan backends to compare (Mamba's selective scan and RWKV-4's WKV, set process-wide
    /// for each step); null: the current setting only. Every precision runs with every backend, alternating in rounds.</param>
    public static IReadOnlyList<ThroughputRow> Measure(ModelConfig config, int batchSize, int seqLen, int rounds = 3, int stepsPerRound = 5,
                                                       bool includeBf16 = true, IReadOnlyList<ScanBackend>? scanBackends = null)
    {
        bool[] precisions = includeBf16 ? [false, true] : [false];
        var backends = scanBackends is { Count: > 0 } ? scanBackends.Select(b => (ScanBackend?)b).ToList() : [null];
        var variants = precisions.SelectMany(bf16 => backends.Select(backend => (Bf16: bf16, Backend: backend))).ToList();
        torch.manual_seed(0);
        using var model = new LanguageModel(config);
        using var optimizer = optim.AdamW(model.parameters(), lr: 1e-4);
        var seconds = variants.ToDictionary(v => v, _ => 0.0);
        var x = randint(0, config.VocabSize, [batchSize, seqLen]);
        var y = randint(0, config.VocabSize, [batchSize, seqLen]);

        void Step((bool Bf16, ScanBackend? Backend) variant)
        {
            var saved = ScanBackends.Default;
            if (variant.Backend is { } backend) ScanBackends.Default = backend;
            try
            {
                using var scope = NewDisposeScope();
                optimizer.zero_grad();
                using (Autocast.Bf16(variant.Bf16))
                    nn.functional.cross_entropy(model.forward(x).flatten(0, 1), y.flatten()).backward();
                optimizer.step();
            }
            finally { ScanBackends.Default = saved; }
        }

        foreach (var v in variants) Step(v); // warm-up: allocator, kernels
        for (int round = 0; round < rounds; round++)
            foreach (var v in variants)
            {
                var clock = Stopwatch.StartNew();
                for (int i = 0; i < stepsPerRound; i++) Step(v);
                seconds[v] += clock.Elapsed.TotalSeconds;
            }
        int steps = rounds * stepsPerRound;
        return [.. variants.Select(v => new ThroughputRow(
            (v.Bf16 ? "bf16 matmuls" : "float32") + (v.Backend is { } b ? $", scan {b.Name()}" : ""),
            (double)steps * batchSize * seqLen / seconds[v], seconds[v] / steps, steps))];
    }
}
