using System.CommandLine;
using ArchLab.Kernels;
using ArchLab.Mixers;
using ArchLab.Models;
using ArchLab.Reporting;
using ArchLab.Runtime;
using TorchSharp;
using ArchLab.Studies;

namespace ArchLab.Cli.Commands;

/// <summary><c>archlab bench train</c>: training throughput, float32 vs bf16 (and scan backends), measured side by side;
/// <c>archlab bench scan</c>: the scan kernels, reference vs fused.</summary>
public static class BenchCommand
{
    public static Command Create()
    {
        var arch = new Option<string>("--arch") { DefaultValueFactory = _ => MixerRegistry.DefaultName };
        var dim = new Option<int>("--dim") { DefaultValueFactory = _ => 128 };
        var layers = new Option<int>("--layers") { DefaultValueFactory = _ => 4 };
        var heads = new Option<int>("--heads") { DefaultValueFactory = _ => 4 };
        var seqLen = new Option<int>("--seq-len") { DefaultValueFactory = _ => 256 };
        var batch = new Option<int>("--batch-size") { DefaultValueFactory = _ => 16 };
        var rounds = new Option<int>("--rounds") { DefaultValueFactory = _ => 3 };
        var threads = new Option<int>("--threads") { Description = "libtorch threads (0: all cores)" };
        var noBf16 = new Option<bool>("--no-bf16") { Description = "measure float32 only" };
        var trainBackends = new Option<string[]>("--scan-backend")
        {
            Description = "scan backends to compare side by side (auto|reference|cpu|ilgpu; several allowed)",
            AllowMultipleArgumentsPerToken = true,
        };
        var train = new Command("train", "training tokens/s in float32 and bf16 (defaults: the default model of `archlab train`)")
        {
            arch, dim, layers, heads, seqLen, batch, rounds, threads, noBf16, trainBackends,
        };
        train.SetAction(p =>
        {
            var backends = ParseBackends(p.GetValue(trainBackends));
            TorchRuntime.SetThreads(p.GetValue(threads));
            var config = new ModelConfig
            {
                Arch = p.GetValue(arch)!, Dim = p.GetValue(dim), Layers = p.GetValue(layers), Heads = p.GetValue(heads),
                ContextLength = p.GetValue(seqLen), VocabSize = 256,
            }.Validate();
            var report = TrainingThroughput.Measure(config, p.GetValue(batch), p.GetValue(seqLen), p.GetValue(rounds),
                                                    includeBf16: !p.GetValue(noBf16), scanBackends: backends);
            var rows = report.Rows;
            Console.WriteLine($"cpu: {Engine.SimdInfo.Describe()}");
            Console.WriteLine($"{config.Arch} dim {config.Dim}, {config.Layers} layers, batch {p.GetValue(batch)} × {p.GetValue(seqLen)} tokens, " +
                              $"{torch.get_num_threads()} threads, variants alternating in {p.GetValue(rounds)} rounds; " +
                              $"{report.Parameters:N0} parameters ({report.NonEmbeddingParameters:N0} non-embedding), " +
                              $"{report.FlopsPerToken / 1e6:F2} MFLOP per token (training: 3 × forward)");
            Console.WriteLine($"  {"variant",-28} {"tok/s",10} {"rounds' range",15} {"GFLOP/s",8} {"ms/step",8} {"forward",8} {"backward",9} {"optimizer",10}");
            foreach (var r in rows)
                Console.WriteLine($"  {r.Precision,-28} {r.TokensPerSecond,10:F0} {$"{r.SlowestRoundTokensPerSecond:F0}–{r.FastestRoundTokensPerSecond:F0}",15} " +
                                  $"{report.Gflops(r),8:F1} {r.SecondsPerStep * 1000,8:F1} {r.ForwardSeconds * 1000,8:F1} {r.BackwardSeconds * 1000,9:F1} " +
                                  $"{r.OptimizerSeconds * 1000,10:F1}");
            if (rows.Count == 2 && backends.Count <= 1)
                Console.WriteLine($"  bf16 / float32 speed: {rows[1].TokensPerSecond / rows[0].TokensPerSecond:F2}×  " +
                                  $"(CPU bf16 instructions avx512_bf16/amx_bf16: {(Autocast.CpuHasFastBf16() ? "yes" : "no")})");
            if (backends.Count > 1)
                Console.WriteLine($"  {rows[^1].Precision} / {rows[0].Precision}: {rows[backends.Count - 1].TokensPerSecond / rows[0].TokensPerSecond:F2}×");
            return 0;
        });
        return new Command("bench", "benchmarks (measured side by side, printed, never asserted)") { train, ScanCommand(), BenchDecodeCommand.Create(), BenchQuantCommand.Create(), BenchMemoryCommand.Create(), BenchMemoryCommand.CreateStep() };
    }

    static List<ScanBackend> ParseBackends(string[]? names)
    {
        var backends = (names ?? []).SelectMany(n => n.Split(',', StringSplitOptions.RemoveEmptyEntries)).Select(ScanBackends.Parse).ToList();
        foreach (var b in backends) ScanBackends.EnsureAvailable(b);
        return backends;
    }

    static Command ScanCommand()
    {
        var op = new Option<string>("--op") { Description = "selective | wkv | all", DefaultValueFactory = _ => "all" };
        var batch = new Option<int>("--batch-size") { DefaultValueFactory = _ => 2 };
        var channels = new Option<int>("--channels") { Description = "channels: Mamba's inner width E, RWKV's attention width C", DefaultValueFactory = _ => 256 };
        var stateSize = new Option<int>("--state") { Description = "selective scan state size N", DefaultValueFactory = _ => 16 };
        var lengths = new Option<int[]>("--lengths") { DefaultValueFactory = _ => [256, 512, 1024, 2048, 4096, 8192], AllowMultipleArgumentsPerToken = true };
        var skipAbove = new Option<int>("--skip-reference-above") { Description = "time the reference only up to this length", DefaultValueFactory = _ => 2048 };
        var repetitions = new Option<int>("--repetitions") { Description = "best of this many, after a warm-up", DefaultValueFactory = _ => 3 };
        var threads = new Option<int>("--threads") { Description = "libtorch threads (0: all cores)" };
        var csv = new Option<string?>("--csv") { Description = "CSV output (default: a new file runs/bench-scan/scan-<UTC time>.csv); an existing file is kept unless --overwrite" };
        var overwrite = new Option<bool>("--overwrite") { Description = "replace an existing --csv file (for example to update experiments/scan-kernels/scan.csv on purpose)" };
        var scan = new Command("scan", "selective scan and WKV, forward and forward+backward: reference tensor ops vs fused CPU kernels")
        {
            op, batch, channels, stateSize, lengths, skipAbove, repetitions, threads, csv, overwrite,
        };
        scan.SetAction(p =>
        {
            var ops = p.GetValue(op)!.Trim().ToLowerInvariant() switch
            {
                "selective" => new[] { ScanOp.Selective },
                "wkv" => [ScanOp.Wkv],
                "all" => [ScanOp.Selective, ScanOp.Wkv],
                var other => throw new ArgumentException($"unknown --op '{other}' (selective | wkv | all)"),
            };
            int b = p.GetValue(batch), e = p.GetValue(channels), n = p.GetValue(stateSize), reps = p.GetValue(repetitions);
            if (b < 1 || e < 1 || n < 1 || reps < 1) throw new ArgumentException("--batch-size, --channels, --state and --repetitions must be positive");
            var lengthList = p.GetValue(lengths)!;
            if (lengthList.Length == 0 || lengthList.Any(t => t < 1)) throw new ArgumentException("--lengths must be positive");
            TorchRuntime.SetThreads(p.GetValue(threads));
            string csvPath = p.GetValue(csv) ?? DefaultScanCsv(DateTime.UtcNow);
            if (File.Exists(csvPath) && !p.GetValue(overwrite))
                throw new ArgumentException($"--csv '{csvPath}' exists (committed results?): name a new file, or pass --overwrite to replace it");
            if (Directory.Exists(csvPath)) throw new ArgumentException($"--csv '{csvPath}' is a folder; name a file");

            double copy = ScanThroughput.CopyGBps(), matmul = ScanThroughput.MatmulGflops();
            Console.WriteLine($"batch {b}, channels {e}, state N {n} (selective scan), float32, {torch.get_num_threads()} libtorch threads, " +
                              $"{Environment.ProcessorCount} cores; best of {reps} after a warm-up, backends alternating.");
            Console.WriteLine($"same run: copy {copy:F1} GB/s (128 MiB tensor copy, read+write), fp32 matmul {matmul:F1} GFLOP/s (1024³)");
            var table = new CsvTable("op", "T", "ref_fwd_ms", "fused_fwd_ms", "speedup_fwd", "ref_fwdbwd_ms", "fused_fwdbwd_ms", "speedup_fwdbwd",
                                     "fused_fwd_GBps", "fused_fwdbwd_GBps", "fused_fwd_GFLOPs", "fused_fwdbwd_GFLOPs",
                                     "fwdbwd_fraction_of_copy", "fwdbwd_fraction_of_matmul", "ref_peak_rss_MiB", "fused_peak_rss_MiB",
                                     "copy_GBps", "matmul_GFLOPs");
            table.Comment("command: ./archlab bench scan " + string.Join(' ', Environment.GetCommandLineArgs().Skip(3)));
            table.Comment($"batch {b}, channels {e}, N {n}, float32, {torch.get_num_threads()} threads, {Environment.ProcessorCount} cores, " +
                          "bytes = compulsory tensor traffic, flops count exp as one, peak RSS = growth of VmHWM over VmRSS in one fwd+bwd");
            Console.WriteLine("| op | T | ref fwd ms | fused fwd ms | fwd × | ref fwd+bwd ms | fused fwd+bwd ms | fwd+bwd × | GB/s | GFLOP/s | of copy | of matmul | peak RSS ref/fused MiB |");
            Console.WriteLine("|---|---|---|---|---|---|---|---|---|---|---|---|---|");
            foreach (var scanOp in ops)
                foreach (int length in lengthList)
                {
                    var row = ScanThroughput.Measure(scanOp, b, length, e, n, length <= p.GetValue(skipAbove), reps);
                    string R(double? v, string f) => v is { } x ? x.ToString(f) : "–";
                    Console.WriteLine($"| {Name(scanOp)} | {length} | {R(row.Reference?.ForwardMs, "F1")} | {row.Fused.ForwardMs:F2} | {R(row.ForwardSpeedup, "F1")} | " +
                                      $"{R(row.Reference?.TrainMs, "F1")} | {row.Fused.TrainMs:F2} | {R(row.TrainSpeedup, "F1")} | " +
                                      $"{row.TrainGBps:F1} | {row.TrainGflops:F1} | {row.TrainGBps / copy:P0} | {row.TrainGflops / matmul:P0} | " +
                                      $"{R(row.Reference?.PeakRssMiB, "F0")} / {row.Fused.PeakRssMiB:F0} |");
                    table.Add(Name(scanOp), length, row.Reference?.ForwardMs, row.Fused.ForwardMs, row.ForwardSpeedup,
                              row.Reference?.TrainMs, row.Fused.TrainMs, row.TrainSpeedup, row.ForwardGBps, row.TrainGBps,
                              row.ForwardGflops, row.TrainGflops, row.TrainGBps / copy, row.TrainGflops / matmul,
                              row.Reference?.PeakRssMiB, row.Fused.PeakRssMiB, copy, matmul);
                    table.Save(csvPath);                                             // after every row: a long run keeps what it measured
                }
            Console.WriteLine($"wrote {csvPath}");
            return 0;
        });
        return scan;
    }

    /// <summary>Where <c>bench scan</c> writes without --csv: a new file under runs/, never the committed experiments/ results.</summary>
    public static string DefaultScanCsv(DateTime utc) => Path.Combine("runs", "bench-scan", $"scan-{utc:yyyyMMdd-HHmmss}.csv");

    static string Name(ScanOp op) => op == ScanOp.Selective ? "selective" : "wkv";
}
