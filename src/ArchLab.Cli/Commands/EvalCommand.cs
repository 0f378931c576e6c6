using System.CommandLine;
using ArchLab.Checkpoints;
using ArchLab.Data;
using ArchLab.Runtime;
using ArchLab.Training;
using TorchSharp;

namespace ArchLab.Cli.Commands;

/// <summary><c>archlab eval --model DIR</c>: validation loss, perplexity and bits per byte.</summary>
public static class EvalCommand
{
    public static Command Create()
    {
        var model = new Option<string[]>("--model") { Description = "run folder, checkpoint or model folder (several with --by-position)", Required = true, AllowMultipleArgumentsPerToken = true };
        var data = new Option<string[]>("--data") { Description = "'brown' or text files/folders (default: the run's data)", AllowMultipleArgumentsPerToken = true };
        var tokenizer = new Option<string?>("--tokenizer") { Description = "default: the run's tokenizer" };
        var seqLen = new Option<int?>("--seq-len") { Description = "default: the model's context length" };
        var batch = new Option<int>("--batch-size") { DefaultValueFactory = _ => 16 };
        var batches = new Option<int>("--batches") { Description = "validation batches (default: the whole split)", DefaultValueFactory = _ => int.MaxValue };
        var device = new Option<string>("--device") { DefaultValueFactory = _ => "cpu" };
        var byPosition = new Option<bool>("--by-position") { Description = "loss and bits per byte by position bucket (try --seq-len 4× the training context)" };
        var bucket = new Option<int>("--bucket") { Description = "positions per bucket with --by-position", DefaultValueFactory = _ => 64 };
        var output = new Option<string?>("--out") { Description = "with --by-position: folder for by-position.csv and by-position.html" };
        var split = new Option<string>("--split") { Description = "text to score: validation (the data's 5 % held-out split), train, or all (a held-out file whole)", DefaultValueFactory = _ => "validation" };
        split.AcceptOnlyFromAmong(EvaluationSplit.Names);
        var command = new Command("eval", "evaluate a model on held-out text") { model, data, tokenizer, seqLen, batch, batches, device, byPosition, bucket, output, split };
        command.SetAction(p =>
        {
            if (p.GetValue(byPosition))
                return EvalByPosition.Run(p.GetValue(model)!, p.GetValue(data), p.GetValue(tokenizer), p.GetValue(seqLen), p.GetValue(batch),
                                          p.GetValue(batches), p.GetValue(bucket), p.GetValue(device)!, p.GetValue(output));
            if (p.GetValue(model)!.Length != 1) throw new ArgumentException("--model takes one folder (several only with --by-position)");
            if (p.GetValue(batches) < 1) throw new ArgumentException($"--batches must be at least 1, got {p.GetValue(batches)}");
            var dev = TorchRuntime.ParseDevice(p.GetValue(device)!);
            string dir = p.GetValue(model)![0];
            var runData = RunData.Load(dir);
            string[] dataSpec = p.GetValue(data) is { Length: > 0 } d ? d : runData?.Data ?? [];
            string tokSpec = p.GetValue(tokenizer) ?? runData?.Tokenizer ?? "byte";
            using var lm = ModelLoader.Load(ModelPath.Resolve(dir));
            lm.to(dev);
            var corpus = RunData.LoadCorpus(dataSpec);
            var tok = Tokenizers.Create(tokSpec, corpus, Console.Out);
            TokenizerFit.Require(tok, lm.Config.VocabSize);
            int len = p.GetValue(seqLen) ?? lm.Config.ContextLength;
            string part = p.GetValue(split)!;
            using var text = EvaluationSplit.Load(corpus, tok, part, p.GetValue(batch), len, log: Console.Out);
            var result = Evaluator.Evaluate(lm, text, p.GetValue(batches), dev);
            Console.WriteLine($"{part} ({corpus.Name}, {result.Tokens:N0} tokens, context {len}): loss {result.Loss:F4}, " +
                              $"perplexity {result.Perplexity:F2}, bits per byte {result.BitsPerByte:F4}");
            return 0;
        });
        return command;
    }
}
