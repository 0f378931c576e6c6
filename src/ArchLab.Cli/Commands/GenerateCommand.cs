using System.CommandLine;
using ArchLab.Checkpoints;
using ArchLab.Data;
using ArchLab.Engine;
using ArchLab.Inference;
using ArchLab.Runtime;
using TorchSharp;

namespace ArchLab.Cli.Commands;

/// <summary><c>archlab generate --model DIR --prompt TEXT</c>: prefill then step, streaming tokens to the console.</summary>
public static class GenerateCommand
{
    /// <summary>Command-line text with \n for a newline and \\ for a backslash.</summary>
    static string Unescape(string text) => text.Replace("\\\\", "\u0000").Replace("\\n", "\n").Replace("\u0000", "\\");

    public static Command Create()
    {
        var model = new Option<string>("--model") { Description = "run folder, checkpoint or model folder", Required = true };
        var prompt = new Option<string[]>("--prompt") { Description = "prompt text; repeat for a batch (generated together)" };
        var promptsFile = new Option<string?>("--prompts-file") { Description = "a file with one prompt per line (a batch; \\n in a line is a newline)" };
        var stop = new Option<string[]>("--stop") { Description = "stop a row when its text contains this (repeatable; \\n is a newline)" };
        var maxTokens = new Option<int>("--max-tokens") { DefaultValueFactory = _ => 200 };
        var temperature = new Option<double>("--temperature") { DefaultValueFactory = _ => 0.8 };
        var topK = new Option<int>("--top-k") { DefaultValueFactory = _ => 0 };
        var topP = new Option<double>("--top-p") { DefaultValueFactory = _ => 1.0 };
        var seed = new Option<long>("--seed") { DefaultValueFactory = _ => 1234 };
        var tokenizer = new Option<string?>("--tokenizer") { Description = "default: the run's tokenizer" };
        var device = new Option<string>("--device") { DefaultValueFactory = _ => "cpu" };
        var engine = new Option<string>("--engine") { Description = "lean (the SIMD decode engine), torch (TorchSharp's step path) or auto (lean where every layer has a lean twin)", DefaultValueFactory = _ => "auto" };
        var weights = new Option<string>("--weights") { Description = "lean engine weights: fp32, bf16 or int8", DefaultValueFactory = _ => "fp32" };
        var threads = new Option<int>("--threads") { Description = "lean engine threads", DefaultValueFactory = _ => 1 };
        var quiet = new Option<bool>("--quiet") { Description = "do not print the prefill and decode timings (standard error)" };
        var command = new Command("generate", "generate text from a prompt")
        {
            model, prompt, promptsFile, stop, maxTokens, temperature, topK, topP, seed, tokenizer, device, engine, weights, threads, quiet,
        };
        command.SetAction(p =>
        {
            var sampling = new SamplingOptions
            {
                Temperature = p.GetValue(temperature), TopK = p.GetValue(topK), TopP = p.GetValue(topP), Seed = p.GetValue(seed),
            }.Validate();
            var dev = TorchRuntime.ParseDevice(p.GetValue(device)!);
            var engineOptions = new EngineOptions(p.GetValue(engine)!.ToLowerInvariant(), WeightFormats.Parse(p.GetValue(weights)!), p.GetValue(threads)).Validate();
            string dir = p.GetValue(model)!;
            var runData = RunData.Load(dir);
            string tokSpec = p.GetValue(tokenizer) ?? runData?.Tokenizer ?? "byte";
            var tok = Tokenizers.Create(tokSpec, tokSpec.StartsWith("bpe:") ? RunData.LoadCorpus(runData?.Data ?? []) : null, Console.Out);
            using var lm = ModelLoader.Load(ModelPath.Resolve(dir));
            TokenizerFit.Require(tok, lm.Config.VocabSize);
            if (tok.VocabSize < lm.Config.VocabSize)
                Console.Error.WriteLine($"note: the model's vocabulary has {lm.Config.VocabSize:N0} ids and tokenizer '{tok.Name}' {tok.VocabSize:N0}: " +
                                        $"tokens are drawn among the first {tok.VocabSize:N0} only");
            lm.to(dev);
            engineOptions = engineOptions.Resolve(lm, out string? notLean);
            if (notLean is not null) Console.Error.WriteLine($"note: {notLean}; decoding with TorchSharp's step (--engine torch)");
            var prompts = (p.GetValue(prompt) ?? []).ToList();
            if (p.GetValue(promptsFile) is { } file)
            {
                if (!File.Exists(file)) throw new ArgumentException($"--prompts-file: no such file '{file}'");
                prompts.AddRange(File.ReadAllLines(file).Where(l => l.Length > 0).Select(Unescape));
            }
            if (prompts.Count == 0) throw new ArgumentException("give a prompt: --prompt TEXT (repeatable) or --prompts-file FILE");
            if (prompts.Any(x => x.Length == 0)) throw new ArgumentException("a prompt must not be empty");
            var stops = (p.GetValue(stop) ?? []).Select(Unescape).ToArray();
            int maxNew = p.GetValue(maxTokens);
            if (maxNew < 0) throw new ArgumentException($"--max-tokens must be ≥ 0, got {maxNew}");
            int longest = prompts.Max(x => tok.Encode(x).Length) + maxNew, context = lm.Config.ContextLength;
            if (longest > context)
            {
                if (lm.Config.PositionEmbedding)
                    throw new ArgumentException($"prompt + --max-tokens reach {longest} tokens, past the model's learned positions (context_length {context})");
                Console.Error.WriteLine($"note: prompt + --max-tokens reach {longest} tokens; the model was trained on {context}-token contexts, " +
                                        "so tokens past that are decoded with positions or states it never saw in training (quality may drop)");
            }
            var timings = new GenerationTimings();
            if (prompts.Count == 1)
            {
                Console.Write(prompts[0]);
                TextGeneration.Generate(lm, tok, prompts, maxNew, sampling, stops, (_, text) => Console.Write(text), engineOptions, timings);
                Console.WriteLine();
            }
            else
            {
                var completions = TextGeneration.Generate(lm, tok, prompts, maxNew, sampling, stops, engine: engineOptions, timings: timings);
                for (int i = 0; i < prompts.Count; i++) Console.WriteLine($"--- {i + 1} ---\n{prompts[i]}{completions[i]}");
            }
            if (!p.GetValue(quiet))
                Console.Error.WriteLine($"{timings} ({engineOptions.Describe()})");
            return 0;
        });
        return command;
    }
}
