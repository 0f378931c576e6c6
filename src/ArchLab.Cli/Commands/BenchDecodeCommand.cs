using System.CommandLine;
using ArchLab.Checkpoints;
using ArchLab.Engine;
using ArchLab.Mixers;
using ArchLab.Models;
using ArchLab.Reporting;
using ArchLab.Studies;
using TorchSharp;

namespace ArchLab.Cli.Commands;

/// <summary>
/// <c>archlab bench decode</c>: decode tokens/s of the lean engine and the TorchSharp step path, per weight format, thread
/// count, batch size and context position, with the copy bandwidth measured in the same run (<see cref="DecodeComparison"/>).
/// </summary>
public static class BenchDecodeCommand
{
    public static Command Create()
    {
        Option<T[]> List<T>(string name, string description, T[] defaults) =>
            new(name) { Description = description, DefaultValueFactory = _ => defaults, AllowMultipleArgumentsPerToken = true };
        var engines = List("--engine", "lean (the SIMD engine) and/or torch (the TorchSharp step path)", new[] { "lean" });
        var weights = List("--weights", "lean engine weight formats: fp32, bf16, int8 (torch is always fp32)", new[] { "fp32" });
        var threads = List("--threads", "thread counts (lean: its workers; torch: libtorch threads)", new[] { 1 });
        var batches = List("--batch", "sequences decoded together in one step", new[] { 1 });
        var archs = List("--arch", "architectures (random weights at the shape below); --archs is the same", MixerRegistry.Names.ToArray());
        archs.Aliases.Add("--archs");
        var positions = List("--positions", "context positions at which a step is timed", new[] { 256, 1024, 4096, 16384, 65536 });
        var model = new Option<string?>("--model") { Description = "time a trained or imported model (run folder, checkpoint or official layout) instead of random shapes" };
        var dim = new Option<int>("--dim") { DefaultValueFactory = _ => 128 };
        var layers = new Option<int>("--layers") { DefaultValueFactory = _ => 4 };
        var mambaLayers = new Option<int>("--mamba-layers")
        {
            Description = "layers for architectures whose blocks have no MLP (Mamba): twice the layers matches the others' parameters (0: --layers)",
            DefaultValueFactory = _ => 8,
        };
        var heads = new Option<int>("--heads") { DefaultValueFactory = _ => 4 };
        var kvHeads = new Option<int?>("--kv-heads") { Description = "grouped-query attention (default: --heads)" };
        var vocab = new Option<int>("--vocab") { DefaultValueFactory = _ => 256 };
        var ffn = new Option<int?>("--ffn-hidden") { Description = "MLP width (default: LLaMA's rule)" };
        var rounds = new Option<int>("--rounds") { Description = "timing rounds over all cases (interleaved)", DefaultValueFactory = _ => 8 };
        var steps = new Option<int>("--steps") { Description = "timed steps per case and round (median of all reported)", DefaultValueFactory = _ => 8 };
        var warmup = new Option<int>("--warmup") { DefaultValueFactory = _ => 4 };
        var maxState = new Option<double>("--max-state-gib") { Description = "skip cases whose state (KV cache) would exceed this", DefaultValueFactory = _ => 4 };
        var csv = new Option<string?>("--csv") { Description = "write one row per case to this CSV file" };
        var output = new Option<string?>("--out") { Description = "folder for decode.csv and charts (latency vs position, tokens/s vs batch)" };
        var command = new Command("decode", "decode tokens/s of the lean engine and TorchSharp side by side: weight formats, threads, batch, context position")
        {
            engines, weights, threads, batches, archs, positions, model, dim, layers, mambaLayers, heads, kvHeads, vocab, ffn,
            rounds, steps, warmup, maxState, csv, output,
        };
        command.SetAction(p =>
        {
            int nSteps = p.GetValue(steps), nWarmup = p.GetValue(warmup), nRounds = p.GetValue(rounds);
            if (nSteps <= 0 || nRounds <= 0 || nWarmup < 0) throw new ArgumentException($"--steps and --rounds must be positive and --warmup ≥ 0, got {nSteps}, {nRounds}, {nWarmup}");
            var engineList = p.GetValue(engines)!.Select(e => e.ToLowerInvariant()).Distinct().ToArray();
            foreach (var e in engineList)
                if (!DecodeComparison.Engines.Contains(e)) throw new ArgumentException($"--engine: unknown engine '{e}' (use lean, torch)");
            var formats = p.GetValue(weights)!.Select(WeightFormats.Parse).Distinct().ToArray();
            var threadList = p.GetValue(threads)!;
            if (threadList.Any(t => t < 1 || t > 256)) throw new ArgumentException($"--threads must be between 1 and 256, got {string.Join(' ', threadList)}");
            var batchList = p.GetValue(batches)!;
            if (batchList.Any(b => b < 1)) throw new ArgumentException($"--batch must be ≥ 1, got {string.Join(' ', batchList)}");
            var positionList = p.GetValue(positions)!;
            if (positionList.Any(x => x < 0)) throw new ArgumentException("--positions must be ≥ 0");
            long stateLimit = (long)(p.GetValue(maxState) * (1L << 30));
            string commandLine = "./archlab " + string.Join(' ', Environment.GetCommandLineArgs().Skip(1));
            string simd = SimdInfo.Describe();
            Console.WriteLine($"cpu: {simd}");
            // TorchSharp's step allocates a few hundred tensors per token, so its time depends on the GC's budget (the
            // lean engine allocates nothing): print it beside every figure.
            string? gen0 = Environment.GetEnvironmentVariable("DOTNET_GCgen0size");
            string budget = string.IsNullOrEmpty(gen0) ? ".NET's default" : "DOTNET_GCgen0size=" + gen0;
            bool concurrent = System.Runtime.GCSettings.LatencyMode != System.Runtime.GCLatencyMode.Batch;
            string gc = $"gen0 budget {budget}, concurrent GC {(concurrent ? "on" : "off")}";
            Console.WriteLine($"gc: {gc}");

            var models = new List<(string Arch, LanguageModel Model)>();
            if (p.GetValue(model) is { } dir)
            {
                var loaded = ModelLoader.Load(ModelPath.Resolve(dir));
                models.Add((loaded.Config.LayerPattern is null ? loaded.Config.Arch : "hybrid", loaded));
            }
            else
                foreach (string arch in p.GetValue(archs)!)
                {
                    string name = MixerRegistry.Canonical(arch);
                    if (!MixerRegistry.IsKnown(name)) throw new ArgumentException($"--arch: unknown architecture '{arch}' (known: {string.Join(", ", MixerRegistry.Names)})");
                    bool noMlp = MixerRegistry.Spec(name).DefaultMlp == "none";
                    int layerCount = noMlp && p.GetValue(mambaLayers) > 0 ? p.GetValue(mambaLayers) : p.GetValue(layers);
                    var config = new ModelConfig
                    {
                        Arch = name, Dim = p.GetValue(dim), Layers = layerCount, Heads = p.GetValue(heads), KvHeads = p.GetValue(kvHeads),
                        VocabSize = p.GetValue(vocab), FfnHidden = p.GetValue(ffn),
                    }.Validate();
                    torch.manual_seed(1);
                    models.Add((name, new LanguageModel(config)));
                }

            var table = new CsvTable("engine", "weights", "threads", "arch", "dim", "layers", "vocab", "batch", "position", "tokens_per_s",
                    "ms_per_step_median", "ms_per_step_p10", "ms_per_step_p90", "weight_bytes_per_token", "copy_GBps", "fraction_of_bandwidth", "read_GBps", "fraction_of_read_bandwidth",
                    "state_bytes", "parameters", "tensors_per_step", "advance_s", "weights_read_GBps", "fraction_of_weights_read")
                .Comment($"command: {commandLine}")
                .Comment($"cpu: {simd}")
                .Comment($"gc: {gc}")
                .Comment("copy_GBps: STREAM copy (b[i] = a[i], 64 MiB, ordinary stores) on the same threads, bytes read + written per second, median of one " +
                         "measurement per round; read_GBps: a read-only pass, bytes read per second; fraction_of_bandwidth = weight bytes read per second / " +
                         "copy_GBps (the llama2.c yardstick), fraction_of_read_bandwidth the same over read_GBps; weights_read_GBps: a read-only pass over a buffer as large as " +
                         "the case's weights, repeated so that it stays in whichever cache it fits (where a small model's weights stay between steps), " +
                         "fraction_of_weights_read the same fraction over it; a step decodes one token for each of batch sequences");
            var cases = new List<DecodeCase>();
            int capacityExtra = nWarmup + nRounds * nSteps + 1;
            foreach (var (arch, lm) in models)
            {
                string? notLean = LeanModel.Unsupported(lm);
                if (engineList.Contains("lean") && notLean is not null)
                    Console.WriteLine($"{arch}: lean engine not timed ({notLean})");
                foreach (int batch in batchList)
                    foreach (int position in positionList.Order())
                    {
                        long state = lm.StateBytes(batch, position + capacityExtra);
                        if (state > stateLimit)
                        {
                            Console.WriteLine($"{arch} batch {batch} position {position}: not run, state {state / (double)(1 << 30):F2} GiB exceeds --max-state-gib {p.GetValue(maxState)}");
                            continue;
                        }
                        foreach (string engine in engineList)
                        {
                            if (engine == "lean" && notLean is not null) continue;
                            foreach (var format in engine == "lean" ? formats : [WeightFormat.Float32])
                                foreach (int t in threadList)
                                    cases.Add(new DecodeCase(engine, format, t, arch, lm, batch, position));
                        }
                    }
            }
            if (cases.Count == 0) throw new ArgumentException("no case to time: every case exceeds --max-state-gib (raise it or lower --positions/--batch) or needs a lean engine the model lacks (add --engine torch)");
            try
            {
                var results = DecodeComparison.Measure(cases, nRounds, nSteps, nWarmup, Console.Out);
                Console.WriteLine($"{"case",-34}{"position",9}{"ms/step",10}{"tok/s",10}{"weights MB/tok",15}{"copy GB/s",10}{"of copy",8}{"read GB/s",10}{"of read",8}{"tensors",9}{"weights read GB/s",19}{"of it",7}");
                foreach (var r in results)
                {
                    var c = r.Case;
                    Console.WriteLine($"{DecodeComparison.Label(c),-34}{c.Position,9}{r.MedianMs,10:F4}{r.TokensPerSecond,10:F0}{r.WeightBytesPerToken / 1e6,15:F3}" +
                                      $"{r.CopyBytesPerSecond / 1e9,10:F1}{r.FractionOfBandwidth,8:F2}{r.ReadBytesPerSecond / 1e9,10:F1}{r.FractionOfReadBandwidth,8:F2}{r.TensorsPerStep,9}" +
                                      $"{r.WeightsReadBytesPerSecond / 1e9,19:F1}{r.FractionOfWeightsRead,7:F2}");
                    var cfg = c.Model.Config;
                    table.Add(c.Engine, c.Engine == "lean" ? c.Weights.Name() : "fp32", c.Threads, c.Arch, cfg.Dim, cfg.Layers, cfg.VocabSize, c.Batch,
                        c.Position, r.TokensPerSecond, r.MedianMs, r.P10Ms, r.P90Ms, r.WeightBytesPerToken, r.CopyBytesPerSecond / 1e9,
                        r.FractionOfBandwidth, r.ReadBytesPerSecond / 1e9, r.FractionOfReadBandwidth, r.StateBytes, c.Model.TotalParameters, r.TensorsPerStep, r.AdvanceSeconds,
                        r.WeightsReadBytesPerSecond / 1e9, r.FractionOfWeightsRead);
                }
                if (p.GetValue(csv) is { } file) { table.Save(file); Console.WriteLine($"wrote {file}"); }
                if (p.GetValue(output) is { } folder) SaveCharts(folder, table, results);
            }
            finally
            {
                foreach (var (_, lm) in models) lm.Dispose();
            }
            return 0;
        });
        return command;
    }

    static void SaveCharts(string folder, CsvTable table, IReadOnlyList<DecodeMeasurement> results)
    {
        Directory.CreateDirectory(folder);
        table.Save(Path.Combine(folder, "decode.csv"));
        string Series(DecodeCase c, bool withBatch) =>
            $"{c.Arch} {c.Engine}{(c.Engine == "lean" ? " " + c.Weights.Name() : "")} {c.Threads}t{(withBatch ? $" b{c.Batch}" : "")}";
        var latency = results.GroupBy(r => Series(r.Case, withBatch: true))
            .Select(g => new Series(g.Key, g.Select(r => (double)Math.Max(1, r.Case.Position)).ToList(), g.Select(r => r.MedianMs).ToList()))
            .Where(s => s.X.Count > 1).ToList();
        if (latency.Count > 0)
            ChartFile.Save(LineChart.Create("Decode step time vs context position", "context position (tokens)", "ms per step (median)",
                latency, logX: true, logY: true), Path.Combine(folder, "latency.html"));
        var throughput = results.GroupBy(r => Series(r.Case, withBatch: false) + $" @{r.Case.Position}")
            .Select(g => new Series(g.Key, g.Select(r => (double)r.Case.Batch).ToList(), g.Select(r => r.TokensPerSecond).ToList()))
            .Where(s => s.X.Count > 1).ToList();
        if (throughput.Count > 0)
            ChartFile.Save(LineChart.Create("Decode throughput vs batch size", "sequences per step (batch)", "tokens/s (all sequences)",
                throughput, logX: true, logY: true), Path.Combine(folder, "throughput.html"));
        Console.WriteLine($"wrote {folder}/decode.csv{(latency.Count > 0 ? ", latency.html" : "")}{(throughput.Count > 0 ? ", throughput.html" : "")}");
    }
}
