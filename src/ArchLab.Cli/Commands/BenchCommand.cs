using System.CommandLine;
using ArchLab.Mixers;
using ArchLab.Models;
using ArchLab.Runtime;
using TorchSharp;
using ArchLab.Studies;

namespace ArchLab.Cli.Commands;

/// <summary><c>archlab bench train</c>: training throughput, float32 vs bf16, measured side by side.</summary>
public static class BenchCommand
{
    public static Command Create()
    {
        var arch = new Option<string>("--arch") { DefaultValueFactory = _ => "transformer" };
        var dim = new Option<int>("--dim") { DefaultValueFactory = _ => 128 };
        var layers = new Option<int>("--layers") { DefaultValueFactory = _ => 4 };
        var heads = new Option<int>("--heads") { DefaultValueFactory = _ => 4 };
        var seqLen = new Option<int>("--seq-len") { DefaultValueFactory = _ => 256 };
        var batch = new Option<int>("--batch-size") { DefaultValueFactory = _ => 16 };
        var rounds = new Option<int>("--rounds") { DefaultValueFactory = _ => 3 };
        var threads = new Option<int>("--threads") { Description = "libtorch threads (0: all cores)" };
        var noBf16 = new Option<bool>("--no-bf16") { Description = "measure float32 only" };
        var train = new Command("train", "training tokens/s in float32 and bf16 (defaults: the default model of `archlab train`)")
        {
            arch, dim, layers, heads, seqLen, batch, rounds, threads, noBf16,
        };
        train.SetAction(p =>
        {
            TorchRuntime.SetThreads(p.GetValue(threads));
            var config = new ModelConfig
            {
                Arch = p.GetValue(arch)!, Dim = p.GetValue(dim), Layers = p.GetValue(layers), Heads = p.GetValue(heads),
                ContextLength = p.GetValue(seqLen), VocabSize = 256, EmbeddingNorm = MixerRegistry.Spec(p.GetValue(arch)!).EmbeddingNorm,
            }.Validate();
            var rows = TrainingThroughput.Measure(config, p.GetValue(batch), p.GetValue(seqLen), p.GetValue(rounds), includeBf16: !p.GetValue(noBf16));
            Console.WriteLine($"{config.Arch} dim {config.Dim}, {config.Layers} layers, batch {p.GetValue(batch)} × {p.GetValue(seqLen)} tokens, " +
                              $"{torch.get_num_threads()} threads, precisions alternating in {p.GetValue(rounds)} rounds:");
            foreach (var r in rows)
                Console.WriteLine($"  {r.Precision,-13} {r.TokensPerSecond,10:F0} tok/s  {r.SecondsPerStep * 1000,8:F1} ms/step  ({r.Steps} steps)");
            if (rows.Count == 2) Console.WriteLine($"  bf16 / float32 speed: {rows[1].TokensPerSecond / rows[0].TokensPerSecond:F2}×  " +
                              $"(CPU bf16 instructions avx512_bf16/amx_bf16: {(Autocast.CpuHasFastBf16() ? "yes" : "no")})");
            return 0;
        });
        var scanBatch = new Option<int>("--batch-size") { DefaultValueFactory = _ => 2 };
        var channels = new Option<int>("--channels") { Description = "inner width E", DefaultValueFactory = _ => 256 };
        var stateSize = new Option<int>("--state") { Description = "state size N", DefaultValueFactory = _ => 16 };
        var lengths = new Option<int[]>("--lengths") { DefaultValueFactory = _ => [256, 1024, 2048], AllowMultipleArgumentsPerToken = true };
        var scanThreads = new Option<int>("--threads") { Description = "libtorch threads (0: all cores)" };
        var scan = new Command("scan", "Mamba selective scan forward+backward: reference loop vs fused CPU kernel")
        {
            scanBatch, channels, stateSize, lengths, scanThreads,
        };
        scan.SetAction(p =>
        {
            TorchRuntime.SetThreads(p.GetValue(scanThreads));
            Console.WriteLine($"selective scan, batch {p.GetValue(scanBatch)}, E {p.GetValue(channels)}, N {p.GetValue(stateSize)}, float32, " +
                              $"{torch.get_num_threads()} threads; forward+backward, best of 3 after a warm-up:");
            foreach (int length in p.GetValue(lengths)!)
            {
                var row = ScanThroughput.Measure(p.GetValue(scanBatch), length, p.GetValue(channels), p.GetValue(stateSize));
                Console.WriteLine($"  T {row.Length,6}: reference {row.ReferenceMs,9:F1} ms   fused {row.FusedMs,8:F1} ms   {row.Speedup,5:F1}×");
            }
            return 0;
        });
        return new Command("bench", "benchmarks (measured side by side, printed, never asserted)") { train, scan, BenchDecodeCommand.Create(), BenchMemoryCommand.Create(), BenchMemoryCommand.CreateStep() };
    }
}
