using System.CommandLine;
using ArchLab.Checkpoints;
using ArchLab.Data;
using ArchLab.Inference;
using ArchLab.Runtime;
using TorchSharp;

namespace ArchLab.Cli.Commands;

/// <summary><c>archlab generate --model DIR --prompt TEXT</c>: prefill then step, streaming tokens to the console.</summary>
public static class GenerateCommand
{
    public static Command Create()
    {
        var model = new Option<string>("--model") { Description = "run folder, checkpoint or model folder", Required = true };
        var prompt = new Option<string>("--prompt") { Required = true };
        var maxTokens = new Option<int>("--max-tokens") { DefaultValueFactory = _ => 200 };
        var temperature = new Option<double>("--temperature") { DefaultValueFactory = _ => 0.8 };
        var topK = new Option<int>("--top-k") { DefaultValueFactory = _ => 0 };
        var topP = new Option<double>("--top-p") { DefaultValueFactory = _ => 1.0 };
        var seed = new Option<long>("--seed") { DefaultValueFactory = _ => 1234 };
        var tokenizer = new Option<string?>("--tokenizer") { Description = "default: the run's tokenizer" };
        var device = new Option<string>("--device") { DefaultValueFactory = _ => "cpu" };
        var command = new Command("generate", "generate text from a prompt") { model, prompt, maxTokens, temperature, topK, topP, seed, tokenizer, device };
        command.SetAction(p =>
        {
            var sampling = new SamplingOptions
            {
                Temperature = p.GetValue(temperature), TopK = p.GetValue(topK), TopP = p.GetValue(topP), Seed = p.GetValue(seed),
            }.Validate();
            var dev = TorchRuntime.ParseDevice(p.GetValue(device)!);
            string dir = p.GetValue(model)!;
            var runData = RunData.Load(dir);
            string tokSpec = p.GetValue(tokenizer) ?? runData?.Tokenizer ?? "byte";
            var tok = Tokenizers.Create(tokSpec, tokSpec.StartsWith("bpe:") ? RunData.LoadCorpus(runData?.Data ?? []) : null, Console.Out);
            using var lm = ModelLoader.Load(ModelPath.Resolve(dir));
            lm.to(dev);
            var ids = tok.Encode(p.GetValue(prompt)!);
            Console.Write(p.GetValue(prompt));
            var pending = new List<int>();
            Generation.Generate(lm, ids, p.GetValue(maxTokens), sampling, token =>
            {
                pending.Add(token);
                string text = tok.Decode(pending.ToArray());
                if (!text.Contains('\uFFFD')) { Console.Write(text); pending.Clear(); } // wait for whole UTF-8 characters
            });
            if (pending.Count > 0) Console.Write(tok.Decode(pending.ToArray()));
            Console.WriteLine();
            return 0;
        });
        return command;
    }
}
