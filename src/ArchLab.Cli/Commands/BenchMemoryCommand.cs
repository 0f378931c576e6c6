using System.CommandLine;
using System.Diagnostics;
using System.Globalization;
using System.Reflection;
using ArchLab.Mixers;
using ArchLab.Models;
using ArchLab.Reporting;
using ArchLab.Runtime;
using ArchLab.Studies;

namespace ArchLab.Cli.Commands;

/// <summary>
/// <c>archlab bench memory</c>: peak memory and time of one training step against sequence length, per architecture and
/// mode. Each configuration runs in a fresh child process (<c>archlab bench memory-step</c>, hidden), because VmHWM,
/// the peak resident memory, is a high-water mark of the whole process and never goes down.
/// </summary>
public static class BenchMemoryCommand
{
    const string ResultPrefix = "RESULT ";

    public static Command Create()
    {
        var archs = new Option<string[]>("--archs") { DefaultValueFactory = _ => MixerRegistry.Names.ToArray(), AllowMultipleArgumentsPerToken = true };
        var lengths = new Option<int[]>("--lengths") { DefaultValueFactory = _ => [256, 512, 1024, 2048, 4096, 8192], AllowMultipleArgumentsPerToken = true };
        var batch = new Option<int>("--batch-size") { DefaultValueFactory = _ => 1 };
        var chunk = new Option<int>("--retnet-chunk") { Description = "chunk length of chunked training forms (RetNet's chunkwise)", DefaultValueFactory = _ => 256 };
        var parallelMax = new Option<int>("--retnet-parallel-max") { Description = "longest sequence for a form whose memory grows as T² (RetNet's parallel) when the architecture has another", DefaultValueFactory = _ => 2048 };
        var mambaLayers = new Option<int>("--mamba-layers") { Description = "layers of architectures whose blocks have no MLP (Mamba; default 4 as every arch; 8 matches the others' parameters)", DefaultValueFactory = _ => 4 };
        var output = new Option<string?>("--out") { Description = "folder for memory.csv and the charts (default: print only)" };
        var command = new Command("memory", "peak memory and time of one training step vs sequence length, one fresh process per configuration")
        {
            archs, lengths, batch, chunk, parallelMax, mambaLayers, output,
        };
        command.SetAction(p =>
        {
            int b = p.GetValue(batch), c = p.GetValue(chunk);
            if (b <= 0 || c <= 0) throw new ArgumentException("--batch-size and --retnet-chunk must be positive");
            var lens = p.GetValue(lengths)!;
            if (lens.Any(l => l <= 0)) throw new ArgumentException("--lengths must be positive");
            string commandLine = "./archlab " + string.Join(' ', Environment.GetCommandLineArgs().Skip(1));
            var table = new CsvTable("arch", "mode", "seq_len", "batch", "parameters", "rss_before_bytes", "peak_rss_bytes", "step_peak_bytes", "step_seconds")
                .Comment($"command: {commandLine}")
                .Comment("one fresh process per row; peak_rss = VmHWM after a warm-up step and a timed step; step_peak = peak_rss - rss_before; 1 libtorch thread");
            var memorySeries = new List<Series>();
            var timeSeries = new List<Series>();
            Console.WriteLine($"{"arch",-12}{"mode",-11}{"T",7}{"RSS before MiB",16}{"VmHWM MiB",11}{"step peak MiB",15}{"step s",9}");
            foreach (string arch in p.GetValue(archs)!)
            {
                string name = MixerRegistry.Canonical(arch);
                var spec = MixerRegistry.Spec(name);
                foreach (var form in spec.TrainingForms)
                {
                    string mode = form.Name;
                    var xs = new List<double>(); var mem = new List<double>(); var secs = new List<double>();
                    foreach (int length in lens.Order())
                    {
                        if (form.Quadratic && spec.TrainingForms.Count > 1 && length > p.GetValue(parallelMax))
                        {
                            Console.WriteLine($"{name,-12}{mode,-11}{length,7}  not run: above --retnet-parallel-max {p.GetValue(parallelMax)}");
                            continue;
                        }
                        var r = RunChild(name, mode, length, b, c, spec.DefaultMlp == "none" ? p.GetValue(mambaLayers) : 4);
                        if (r is null) { Console.WriteLine($"{name,-12}{mode,-11}{length,7}  failed (see the child's error above)"); continue; }
                        Console.WriteLine($"{name,-12}{mode,-11}{length,7}{Mib(r.RssBeforeBytes),16:F0}{Mib(r.PeakRssBytes),11:F0}{Mib(r.StepPeakBytes),15:F0}{r.StepSeconds,9:F2}");
                        table.Add(name, mode, length, b, r.Parameters, r.RssBeforeBytes, r.PeakRssBytes, r.StepPeakBytes, r.StepSeconds);
                        xs.Add(length); mem.Add(Mib(r.StepPeakBytes)); secs.Add(r.StepSeconds);
                    }
                    memorySeries.Add(new Series($"{name} ({mode})", xs, mem));
                    timeSeries.Add(new Series($"{name} ({mode})", xs, secs));
                }
            }
            if (p.GetValue(output) is { } dir)
            {
                Directory.CreateDirectory(dir);
                table.Save(Path.Combine(dir, "memory.csv"));
                ChartFile.Save(LineChart.Create($"Training step peak memory vs sequence length (batch {b}, fresh process each)", "sequence length (tokens)",
                    "step peak MiB (VmHWM − RSS before)", memorySeries, logX: true, logY: true), Path.Combine(dir, "memory.html"));
                ChartFile.Save(LineChart.Create($"Training step time vs sequence length (batch {b}, 1 thread)", "sequence length (tokens)",
                    "seconds per forward+backward", timeSeries, logX: true, logY: true), Path.Combine(dir, "time.html"));
                Console.WriteLine($"wrote {dir}/memory.csv, memory.html, time.html");
            }
            return 0;
        });
        return command;
    }

    /// <summary>The hidden child: measures one configuration and prints one RESULT line.</summary>
    public static Command CreateStep()
    {
        var arch = new Option<string>("--arch") { Required = true };
        var mode = new Option<string>("--mode") { Required = true };
        var seqLen = new Option<int>("--seq-len") { Required = true };
        var batch = new Option<int>("--batch-size") { DefaultValueFactory = _ => 1 };
        var chunk = new Option<int>("--retnet-chunk") { DefaultValueFactory = _ => 256 };
        var layers = new Option<int>("--layers") { DefaultValueFactory = _ => 4 };
        var command = new Command("memory-step", "one configuration of bench memory (run in a fresh process)") { arch, mode, seqLen, batch, chunk, layers };
        command.Hidden = true;
        command.SetAction(p =>
        {
            TorchRuntime.SetThreads(1);
            string name = MixerRegistry.Canonical(p.GetValue(arch)!);
            string m = p.GetValue(mode)!;
            var form = MixerRegistry.Spec(name).TrainingForms.FirstOrDefault(f => f.Name == m)
                       ?? throw new ArgumentException($"--mode: {name} has no form '{m}' (forms: {string.Join(", ", MixerRegistry.Spec(name).TrainingForms.Select(f => f.Name))})");
            var config = form.Apply(new ModelConfig { Arch = name, VocabSize = 256, Layers = p.GetValue(layers), ContextLength = p.GetValue(seqLen) },
                                    p.GetValue(chunk)).Validate();
            var r = TrainingMemory.MeasureStep(config, m, p.GetValue(batch), p.GetValue(seqLen));
            Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
                $"{ResultPrefix}{r.Parameters} {r.RssBeforeBytes} {r.PeakRssBytes} {r.StepSeconds:R}"));
            return 0;
        });
        return command;
    }

    static TrainingMemoryPoint? RunChild(string arch, string mode, int seqLen, int batch, int chunk, int layers)
    {
        var host = Environment.ProcessPath ?? "dotnet";
        var info = new ProcessStartInfo(host) { RedirectStandardOutput = true, UseShellExecute = false };
        if (Path.GetFileNameWithoutExtension(host) == "dotnet") info.ArgumentList.Add(Assembly.GetEntryAssembly()!.Location);
        foreach (var a in new[] { "bench", "memory-step", "--arch", arch, "--mode", mode, "--seq-len", seqLen.ToString(CultureInfo.InvariantCulture),
                                  "--batch-size", batch.ToString(CultureInfo.InvariantCulture), "--retnet-chunk", chunk.ToString(CultureInfo.InvariantCulture),
                                  "--layers", layers.ToString(CultureInfo.InvariantCulture) })
            info.ArgumentList.Add(a);
        using var child = Process.Start(info) ?? throw new InvalidOperationException($"could not start {host}");
        string stdout = child.StandardOutput.ReadToEnd();
        child.WaitForExit();
        var line = stdout.Split('\n').Select(l => l.Trim()).LastOrDefault(l => l.StartsWith(ResultPrefix, StringComparison.Ordinal));
        if (child.ExitCode != 0 || line is null) return null;
        var f = line[ResultPrefix.Length..].Split(' ');
        return new TrainingMemoryPoint(arch, mode, seqLen, batch, long.Parse(f[0], CultureInfo.InvariantCulture), long.Parse(f[1], CultureInfo.InvariantCulture),
            long.Parse(f[2], CultureInfo.InvariantCulture), double.Parse(f[3], CultureInfo.InvariantCulture));
    }

    static double Mib(long bytes) => bytes / (double)(1 << 20);
}
