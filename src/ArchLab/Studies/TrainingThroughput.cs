using System.Diagnostics;
using ArchLab.Models;
using ArchLab.Runtime;
using TorchSharp;
using static TorchSharp.torch;

namespace ArchLab.Studies;

/// <summary>One row of <see cref="TrainingThroughput"/>: a precision and what it achieved.</summary>
public sealed record ThroughputRow(string Precision, double TokensPerSecond, double SecondsPerStep, int Steps);

/// <summary>
/// Training tokens/s (forward, backward, AdamW step) of one model in float32 and with bf16 matmuls, measured side by
/// side: the precisions alternate in short rounds within one process, so machine noise hits both alike.
/// </summary>
public static class TrainingThroughput
{
    public static IReadOnlyList<ThroughputRow> Measure(ModelConfig config, int batchSize, int seqLen, int rounds = 3, int stepsPerRound = 5,
                                                       bool includeBf16 = true)
    {
        bool[] precisions = includeBf16 ? [false, true] : [false];
        torch.manual_seed(0);
        using var model = new LanguageModel(config);
        using var optimizer = optim.AdamW(model.parameters(), lr: 1e-4);
        var seconds = new Dictionary<bool, double> { [false] = 0, [true] = 0 };
        var x = randint(0, config.VocabSize, [batchSize, seqLen]);
        var y = randint(0, config.VocabSize, [batchSize, seqLen]);

        void Step(bool bf16)
        {
            using var scope = NewDisposeScope();
            optimizer.zero_grad();
            using (Autocast.Bf16(bf16))
                nn.functional.cross_entropy(model.forward(x).flatten(0, 1), y.flatten()).backward();
            optimizer.step();
        }

        foreach (bool bf16 in precisions) Step(bf16); // warm-up: allocator, kernels
        for (int round = 0; round < rounds; round++)
            foreach (bool bf16 in precisions)
            {
                var clock = Stopwatch.StartNew();
                for (int i = 0; i < stepsPerRound; i++) Step(bf16);
                seconds[bf16] += clock.Elapsed.TotalSeconds;
            }
        int steps = rounds * stepsPerRound;
        return [.. precisions.Select(bf16 => new ThroughputRow(
            bf16 ? "bf16 matmuls" : "float32", (double)steps * batchSize * seqLen / seconds[bf16], seconds[bf16] / steps, steps))];
    }
}
