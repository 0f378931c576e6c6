using ArchLab.Checkpoints;
using ArchLab.Data;
using ArchLab.Reporting;
using ArchLab.Runtime;
using ArchLab.Studies;
using ArchLab.Training;
using TorchSharp;

namespace ArchLab.Cli.Commands;

/// <summary><c>archlab eval --by-position</c>: per-position-bucket loss of one or more models, table, CSV and chart.</summary>
public static class EvalByPosition
{
    public static int Run(string[] models, string[]? data, string? tokenizer, int? seqLen, int batch, int batches, int bucket,
                          string device, string? outputDir)
    {
        var dev = TorchRuntime.ParseDevice(device);
        string commandLine = "./archlab " + string.Join(' ', Environment.GetCommandLineArgs().Skip(1));
        var table = new CsvTable("model", "arch", "train_context", "seq_len", "bucket_start", "bucket_end", "loss", "bits_per_byte", "tokens")
            .Comment($"command: {commandLine}");
        var series = new List<Series>();
        int? shownContext = null;
        foreach (string dir in models)
        {
            var runData = RunData.Load(dir);
            string[] dataSpec = data is { Length: > 0 } d ? d : runData?.Data ?? [];
            string tokSpec = tokenizer ?? runData?.Tokenizer ?? "byte";
            using var lm = ModelLoader.Load(ModelPath.Resolve(dir));
            lm.to(dev);
            var corpus = RunData.LoadCorpus(dataSpec);
            var tok = Tokenizers.Create(tokSpec, corpus, Console.Out);
            TokenizerFit.Require(tok, lm.Config.VocabSize);
            using var tokens = TokenizedCorpus.Load(corpus, tok, log: Console.Out);
            int len = seqLen ?? 4 * lm.Config.ContextLength;
            string arch = lm.Config.LayerPattern is { } pattern ? "hybrid " + string.Join('/', pattern) : lm.Config.Arch;
            var buckets = PositionLoss.Evaluate(lm, new CorpusTrainingData(tokens, batch, len, seed: 0), batches, bucket, dev);
            Console.WriteLine($"{dir} ({arch}, trained at context {lm.Config.ContextLength}), windows of {len} tokens, {buckets[0].Tokens / (buckets[0].End - buckets[0].Start):N0} windows:");
            foreach (var b in buckets)
            {
                Console.WriteLine($"  positions {b.Start,5}–{b.End - 1,-5}  loss {b.Loss:F4}  bits per byte {b.BitsPerByte:F4}");
                table.Add(dir, arch, lm.Config.ContextLength, len, b.Start, b.End, b.Loss, b.BitsPerByte, b.Tokens);
            }
            series.Add(new Series(arch, buckets.Select(b => (b.Start + b.End - 1) / 2.0).ToList(), buckets.Select(b => b.BitsPerByte).ToList()));
            shownContext ??= lm.Config.ContextLength;
        }
        if (outputDir is not null)
        {
            Directory.CreateDirectory(outputDir);
            table.Save(Path.Combine(outputDir, "by-position.csv"));
            ChartFile.Save(LineChart.Create($"Validation bits per byte by position (trained at context {shownContext})", "position in window (bucket centre)",
                "bits per byte", series), Path.Combine(outputDir, "by-position.html"));
            Console.WriteLine($"wrote {outputDir}/by-position.csv and by-position.html");
        }
        return 0;
    }
}
