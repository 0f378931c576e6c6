using System.CommandLine;
using ArchLab.Checkpoints;
using ArchLab.Data;
using ArchLab.Engine;
using ArchLab.Reporting;
using ArchLab.Studies;

namespace ArchLab.Cli.Commands;

/// <summary><c>archlab bench quant --model DIR</c>: logits difference and validation bits per byte of the bf16 and int8
/// engine weights against float32 (<see cref="QuantizationError"/>).</summary>
public static class BenchQuantCommand
{
    public static Command Create()
    {
        var model = new Option<string>("--model") { Description = "run folder, checkpoint or model folder", Required = true };
        var data = new Option<string[]>("--data") { Description = "'brown' or text files/folders (default: the run's data)", AllowMultipleArgumentsPerToken = true };
        var tokenizer = new Option<string?>("--tokenizer") { Description = "default: the run's tokenizer" };
        var windows = new Option<int>("--windows") { Description = "validation windows decoded together (a batch)", DefaultValueFactory = _ => 16 };
        var length = new Option<int?>("--length") { Description = "tokens per window (default: the model's context length)" };
        var weights = new Option<string[]>("--weights") { DefaultValueFactory = _ => ["bf16", "int8"], AllowMultipleArgumentsPerToken = true };
        var threads = new Option<int>("--threads") { DefaultValueFactory = _ => 1 };
        var csv = new Option<string?>("--csv") { Description = "write the table to this CSV file" };
        var command = new Command("quant", "bf16 and int8 engine weights against float32: logits difference and validation bits per byte")
        {
            model, data, tokenizer, windows, length, weights, threads, csv,
        };
        command.SetAction(p =>
        {
            int count = p.GetValue(windows);
            if (count < 1) throw new ArgumentException($"--windows must be ≥ 1, got {count}");
            if (p.GetValue(threads) < 1) throw new ArgumentException($"--threads must be ≥ 1, got {p.GetValue(threads)}");
            var formats = p.GetValue(weights)!.Select(WeightFormats.Parse).ToArray();
            string dir = p.GetValue(model)!;
            var runData = RunData.Load(dir);
            string[] dataSpec = p.GetValue(data) is { Length: > 0 } d ? d : runData?.Data ?? [];
            string tokSpec = p.GetValue(tokenizer) ?? runData?.Tokenizer ?? "byte";
            using var lm = ModelLoader.Load(ModelPath.Resolve(dir));
            var corpus = RunData.LoadCorpus(dataSpec);
            var tok = Tokenizers.Create(tokSpec, corpus, Console.Out);
            TokenizerFit.Require(tok, lm.Config.VocabSize);
            using var tokens = TokenizedCorpus.Load(corpus, tok, log: Console.Out);
            var validation = tokens.Validation;
            int len = p.GetValue(length) ?? lm.Config.ContextLength;
            if (len < 2) throw new ArgumentException($"--length must be ≥ 2, got {len}");
            if (validation.TokenCount < (long)count * len) throw new ArgumentException($"the validation split has {validation.TokenCount} tokens, fewer than --windows × --length = {(long)count * len}");
            long stride = validation.TokenCount / count;
            var batch = Enumerable.Range(0, count).Select(i =>
            {
                var window = new long[len];
                validation.Tokens.CopyTo(i * stride, window);
                return window.Select(t => (int)t).ToArray();
            }).ToArray();
            Console.WriteLine($"cpu: {SimdInfo.Describe()}");
            Console.WriteLine($"{count} validation windows of {len} tokens ({corpus.Name}), each format's engine stepped in lockstep with float32's");
            var results = QuantizationError.Measure(lm, batch, validation.TokensPerByte, formats, p.GetValue(threads));
            var table = new CsvTable("weights", "weight_bytes_per_token", "max_abs_logit_diff", "mean_abs_logit_diff", "loss_nats_per_token", "bits_per_byte", "bits_per_byte_change")
                .Comment("command: ./archlab " + string.Join(' ', Environment.GetCommandLineArgs().Skip(1)))
                .Comment($"cpu: {SimdInfo.Describe()}");
            Console.WriteLine($"{"weights",-8}{"MB/token",10}{"max |Δlogit|",14}{"mean |Δlogit|",15}{"loss",9}{"bits/byte",11}{"Δ bits/byte",13}");
            foreach (var r in results)
            {
                Console.WriteLine($"{r.Format.Name(),-8}{r.WeightBytesPerToken / 1e6,10:F3}{r.MaxAbsLogitDifference,14:E2}{r.MeanAbsLogitDifference,15:E2}" +
                                  $"{r.LossNatsPerToken,9:F4}{r.BitsPerByte,11:F4}{r.BitsPerByteChange,13:+0.0E+0;-0.0E+0;0}");
                table.Add(r.Format.Name(), r.WeightBytesPerToken, r.MaxAbsLogitDifference, r.MeanAbsLogitDifference, r.LossNatsPerToken, r.BitsPerByte, r.BitsPerByteChange);
            }
            if (p.GetValue(csv) is { } file) { table.Save(file); Console.WriteLine($"wrote {file}"); }
            return 0;
        });
        return command;
    }
}
