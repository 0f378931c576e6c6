using System.CommandLine;
using ArchLab.Mixers;
using ArchLab.Models;
using ArchLab.Reporting;
using ArchLab.Runtime;
using ArchLab.Studies;
using TorchSharp;

namespace ArchLab.Cli.Commands;

/// <summary><c>archlab bench decode</c>: per-token decode latency and state memory against context position, per architecture.</summary>
public static class BenchDecodeCommand
{
    public static Command Create()
    {
        var archs = new Option<string[]>("--archs") { DefaultValueFactory = _ => ["transformer", "rwkv4", "retnet", "mamba"], AllowMultipleArgumentsPerToken = true };
        var dim = new Option<int>("--dim") { DefaultValueFactory = _ => 128 };
        var layers = new Option<int>("--layers") { DefaultValueFactory = _ => 4 };
        var mambaLayers = new Option<int>("--mamba-layers") { Description = "Mamba blocks have no MLP: twice the layers matches the others' parameters", DefaultValueFactory = _ => 8 };
        var positions = new Option<long[]>("--positions") { DefaultValueFactory = _ => [256, 1024, 4096, 16384, 65536], AllowMultipleArgumentsPerToken = true };
        var rounds = new Option<int>("--rounds") { Description = "rounds over all positions (interleaved timing)", DefaultValueFactory = _ => 8 };
        var steps = new Option<int>("--steps") { Description = "timed steps per position and round (median of all reported)", DefaultValueFactory = _ => 8 };
        var warmup = new Option<int>("--warmup") { DefaultValueFactory = _ => 4 };
        var generate = new Option<int>("--generate-tokens") { Description = "also time generating this many tokens from a 16-token prompt", DefaultValueFactory = _ => 512 };
        var maxState = new Option<double>("--max-state-gib") { Description = "skip positions whose state (KV cache) would exceed this", DefaultValueFactory = _ => 4 };
        var threads = new Option<int>("--threads") { Description = "libtorch threads (0: all cores)", DefaultValueFactory = _ => 1 };
        var output = new Option<string?>("--out") { Description = "folder for decode.csv, generate.csv and the charts (default: print only)" };
        var command = new Command("decode", "decode latency, tokens/s and state bytes against context position (256 … 64k)")
        {
            archs, dim, layers, mambaLayers, positions, rounds, steps, warmup, generate, maxState, threads, output,
        };
        command.SetAction(p =>
        {
            TorchRuntime.SetThreads(p.GetValue(threads));
            int nSteps = p.GetValue(steps), nWarmup = p.GetValue(warmup), nRounds = p.GetValue(rounds);
            if (nSteps <= 0 || nRounds <= 0) throw new ArgumentException($"--steps and --rounds must be positive, got {nSteps} and {nRounds}");
            var pos = p.GetValue(positions)!;
            if (pos.Any(x => x < 0)) throw new ArgumentException("--positions must be ≥ 0");
            long stateLimit = (long)(p.GetValue(maxState) * (1L << 30));
            string commandLine = "./archlab " + string.Join(' ', Environment.GetCommandLineArgs().Skip(1));

            var machine = MachineFigures.Measure();
            string machineLine = $"machine ({torch.get_num_threads()} libtorch threads): {machine.MicrosecondsPerOp:F2} µs per small op, " +
                                 $"{machine.FlopsPerSecond / 1e9:F1} GFLOP/s float32 matmul, {machine.BytesPerSecond / 1e9:F1} GB/s copy bandwidth";
            Console.WriteLine(machineLine);

            var decode = new CsvTable("arch", "parameters", "layers", "position", "ms_per_token_median", "ms_per_token_mean", "tokens_per_s",
                "state_bytes_analytic", "state_bytes_allocated", "rss_growth_bytes", "peak_rss_bytes", "advance_s", "flops_per_token", "bytes_per_token",
                "lean_c_estimate_ms", "measured_over_estimate").Comment($"command: {commandLine}").Comment(machineLine);
            var gen = new CsvTable("arch", "parameters", "tokens", "seconds", "tokens_per_s").Comment($"command: {commandLine}");
            var series = new List<Series>();
            var stateSeries = new List<Series>();
            var models = new List<(string Arch, LanguageModel Model, IReadOnlyList<long> Positions)>();
            foreach (string arch in p.GetValue(archs)!)
            {
                string name = MixerRegistry.Canonical(arch);
                var config = new ModelConfig
                {
                    Arch = name, Dim = p.GetValue(dim), Layers = name == "mamba" ? p.GetValue(mambaLayers) : p.GetValue(layers),
                    VocabSize = 256, EmbeddingNorm = MixerRegistry.Spec(name).EmbeddingNorm,
                }.Validate();
                torch.manual_seed(1);
                var model = new LanguageModel(config);
                var run = new List<long>();
                foreach (long position in pos.Order())
                {
                    if (model.StateBytes(1, position + nWarmup + nRounds * nSteps) <= stateLimit) { run.Add(position); continue; }
                    Console.WriteLine($"{name,-12}{model.TotalParameters,10}{position,10}  not run: state would exceed --max-state-gib {p.GetValue(maxState)}");
                    decode.Add(name, model.TotalParameters, config.Layers, position, "", "", "", model.StateBytes(1, position), "", "", "", "", "", "", "", "");
                }
                models.Add((name, model, run));
            }
            try
            {
                var points = DecodeBenchmark.Measure(models, nRounds, nSteps, nWarmup, machine, log: Console.Out);
                Console.WriteLine($"{"arch",-12}{"params",10}{"position",10}{"ms/token",10}{"tok/s",9}{"state MiB",11}{"alloc MiB",11}{"RSS+ MiB",10}{"VmHWM MiB",11}{"C est ms",10}{"ratio",8}");
                foreach (var (name, model, _) in models)
                {
                    var xs = new List<double>(); var ys = new List<double>(); var bs = new List<double>();
                    foreach (var r in points.Where(r => r.Arch == name))
                    {
                        Console.WriteLine($"{name,-12}{r.Parameters,10}{r.Position,10}{r.MsPerToken,10:F3}{r.TokensPerSecond,9:F0}{Mib(r.StateBytesAnalytic),11:F2}" +
                                          $"{Mib(r.StateBytesAllocated),11:F2}{Mib(r.RssGrowthBytes),10:F1}{Mib(r.PeakRssBytes),11:F0}{r.EstimatedCMs,10:F4}{r.MsPerToken / r.EstimatedCMs,8:F1}");
                        decode.Add(name, r.Parameters, model.Config.Layers, r.Position, r.MsPerToken, r.MeanMsPerToken, r.TokensPerSecond, r.StateBytesAnalytic,
                            r.StateBytesAllocated, r.RssGrowthBytes, r.PeakRssBytes, r.AdvanceSeconds, r.FlopsPerToken, r.BytesPerToken, r.EstimatedCMs,
                            r.MsPerToken / r.EstimatedCMs);
                        xs.Add(r.Position); ys.Add(r.MsPerToken); bs.Add(r.StateBytesAnalytic);
                    }
                    series.Add(new Series($"{name} ({model.TotalParameters / 1e6:F2}M)", xs, ys));
                    stateSeries.Add(new Series(name, xs, bs));
                }
                if (p.GetValue(generate) is > 0 and var n)
                    foreach (var (name, model, _) in models)
                    {
                        double seconds = DecodeBenchmark.GenerateSeconds(model, n);
                        Console.WriteLine($"{name,-12} generate {n} tokens (16-token prompt, greedy): {seconds:F2} s, {n / seconds:F0} tokens/s");
                        gen.Add(name, model.TotalParameters, n, seconds, n / seconds);
                    }
            }
            finally
            {
                foreach (var (_, model, _) in models) model.Dispose();
            }
            if (p.GetValue(output) is { } dir)
            {
                Directory.CreateDirectory(dir);
                decode.Save(Path.Combine(dir, "decode.csv"));
                gen.Save(Path.Combine(dir, "generate.csv"));
                ChartFile.Save(LineChart.Create("Decode latency per token vs context position (batch 1, float32)", "context position (tokens)",
                    "ms per token (median)", series, logX: true, logY: true), Path.Combine(dir, "latency.html"));
                ChartFile.Save(LineChart.Create("Decode state bytes vs context position", "context position (tokens)", "state bytes (analytic)",
                    stateSeries, logX: true, logY: true), Path.Combine(dir, "state-bytes.html"));
                Console.WriteLine($"wrote {dir}/decode.csv, generate.csv, latency.html, state-bytes.html");
            }
            return 0;
        });
        return command;
    }

    static double Mib(long bytes) => bytes / (double)(1 << 20);
}
