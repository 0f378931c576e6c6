using System.CommandLine;
using ArchLab.Data;
using ArchLab.Inference;
using ArchLab.Mixers;
using ArchLab.Models;
using ArchLab.Runtime;
using ArchLab.Training;
using Spectre.Console;
using TorchSharp;

namespace ArchLab.Cli.Commands;

/// <summary><c>archlab train</c>: a small model on the Brown corpus by default; <c>--resume</c> continues a run exactly.</summary>
public static class TrainCommand
{
    public static Command Create()
    {
        var arch = new Option<string>("--arch") { Description = "mixer of every layer", DefaultValueFactory = _ => ArchLab.Mixers.MixerRegistry.DefaultName };
        var config = new Option<string?>("--config") { Description = "model config JSON (overrides --arch and the size options)" };
        var dim = new Option<int>("--dim") { DefaultValueFactory = _ => 128 };
        var layers = new Option<int>("--layers") { DefaultValueFactory = _ => 4 };
        var heads = new Option<int>("--heads") { DefaultValueFactory = _ => 4 };
        var kvHeads = new Option<int?>("--kv-heads") { Description = "grouped-query attention: key/value heads" };
        var context = new Option<int>("--seq-len") { Description = "training context length", DefaultValueFactory = _ => 256 };
        var steps = new Option<int>("--steps") { DefaultValueFactory = _ => 600 };
        var batch = new Option<int>("--batch-size") { DefaultValueFactory = _ => 16 };
        var accum = new Option<int>("--grad-accum") { DefaultValueFactory = _ => 1 };
        var lr = new Option<double>("--lr") { DefaultValueFactory = _ => 3e-3 };
        var warmup = new Option<int>("--warmup") { DefaultValueFactory = _ => 50 };
        var evalEvery = new Option<int>("--eval-every") { DefaultValueFactory = _ => 100 };
        var evalBatches = new Option<int>("--eval-batches") { DefaultValueFactory = _ => 20 };
        var checkpointEvery = new Option<int>("--checkpoint-every") { DefaultValueFactory = _ => 100 };
        var logEvery = new Option<int>("--log-every") { DefaultValueFactory = _ => 10 };
        var seed = new Option<int>("--seed") { DefaultValueFactory = _ => 1337 };
        var bf16 = new Option<bool>("--bf16") { Description = "bf16 matmuls (float32 weights and optimizer)" };
        var data = new Option<string[]>("--data") { Description = "'brown' (default) or text files/folders", AllowMultipleArgumentsPerToken = true };
        var tokenizer = new Option<string>("--tokenizer") { Description = string.Join(" | ", Tokenizers.Specs), DefaultValueFactory = _ => "byte" };
        var output = new Option<string>("--out") { Description = "run folder", DefaultValueFactory = _ => "runs/default" };
        var resume = new Option<bool>("--resume") { Description = "continue the run in --out from its latest checkpoint" };
        var device = new Option<string>("--device") { DefaultValueFactory = _ => "cpu" };
        var threads = new Option<int>("--threads") { Description = "libtorch threads (0: all cores)" };
        var scanBackend = new Option<string?>("--scan-backend") { Description = "scan kernels of Mamba, RWKV-4, Mamba-2, RWKV-7, Gated DeltaNet: auto | reference | cpu | ilgpu (default: ARCHLAB_SCAN_BACKEND or auto)" };
        var sample = new Option<int>("--sample-tokens") { Description = "tokens of text to generate at the end", DefaultValueFactory = _ => 200 };

        var command = new Command("train", "train a language model")
        {
            arch, config, dim, layers, heads, kvHeads, context, steps, batch, accum, lr, warmup, evalEvery, evalBatches,
            checkpointEvery, logEvery, seed, bf16, data, tokenizer, output, resume, device, threads, sample, scanBackend,
        };
        command.SetAction(p =>
        {
            if (p.GetValue(scanBackend) is { } scanName)
            {
                var backend = ArchLab.Kernels.ScanBackends.Parse(scanName);
                ArchLab.Kernels.ScanBackends.EnsureAvailable(backend);
                ArchLab.Kernels.ScanBackends.Default = backend;
            }
            TorchRuntime.SetThreads(p.GetValue(threads));
            var dev = TorchRuntime.ParseDevice(p.GetValue(device)!);
            string runDir = p.GetValue(output)!;
            bool resuming = p.GetValue(resume);

            var runData = resuming
                ? RunData.Load(runDir) ?? throw new ArgumentException($"--resume: {runDir} holds no run (no data.json)")
                : new RunData(p.GetValue(data) ?? [], p.GetValue(tokenizer)!);
            var corpus = RunData.LoadCorpus(runData.Data);
            var tok = Tokenizers.Create(runData.Tokenizer, corpus, Console.Out);
            using var tokens = TokenizedCorpus.Load(corpus, tok, log: Console.Out);

            Trainer trainer;
            if (resuming)
            {
                var saved = TrainConfig.FromJson(File.ReadAllText(Path.Combine(runDir, "train_config.json")), runDir);
                trainer = Trainer.Resume(runDir, new CorpusTrainingData(tokens, saved.BatchSize, saved.SeqLen, saved.Seed), dev);
                AnsiConsole.MarkupLine($"[grey]resuming {Markup.Escape(runDir)} at step {trainer.State.Step}[/]");
            }
            else
            {
                var modelConfig = p.GetValue(config) is string path
                    ? ModelConfig.Load(path)
                    : new ModelConfig
                    {
                        Arch = p.GetValue(arch)!, Dim = p.GetValue(dim), Layers = p.GetValue(layers), Heads = p.GetValue(heads),
                        KvHeads = p.GetValue(kvHeads), ContextLength = p.GetValue(context), VocabSize = tok.VocabSize,
                    };
                if (modelConfig.VocabSize < tok.VocabSize)
                    throw new ArgumentException($"model vocab_size {modelConfig.VocabSize} is smaller than the tokenizer's {tok.VocabSize}");
                var trainConfig = new TrainConfig
                {
                    Steps = p.GetValue(steps), BatchSize = p.GetValue(batch), GradAccum = p.GetValue(accum), SeqLen = modelConfig.ContextLength,
                    LearningRate = p.GetValue(lr), WarmupSteps = p.GetValue(warmup), EvalEvery = p.GetValue(evalEvery),
                    EvalBatches = p.GetValue(evalBatches), CheckpointEvery = p.GetValue(checkpointEvery), LogEvery = p.GetValue(logEvery),
                    Seed = p.GetValue(seed), Bf16 = p.GetValue(bf16),
                }.Validate();
                trainer = Trainer.Start(modelConfig.Validate(), trainConfig,
                    new CorpusTrainingData(tokens, trainConfig.BatchSize, trainConfig.SeqLen, trainConfig.Seed), runDir, dev);
                runData.Save(runDir);
            }

            if (trainer.Config.Bf16 && dev.type == DeviceType.CPU && !Autocast.CpuHasFastBf16())
                AnsiConsole.MarkupLine("[yellow]warning: this CPU lacks avx512_bf16/amx_bf16, so bf16 matmuls run far slower than float32 here[/]");
            var model = trainer.Model;
            AnsiConsole.MarkupLine(
                $"[bold]{Markup.Escape(model.Config.Arch)}[/] dim {model.Config.Dim}, {model.Config.Layers} layers: " +
                $"{model.NonEmbeddingParameters:N0} non-embedding + {model.EmbeddingParameters + model.HeadParameters:N0} embedding/head parameters, " +
                $"{model.TrainingFlopsPerToken(trainer.Config.SeqLen) / 1e6:F1} MFLOP/token; corpus {Markup.Escape(corpus.Name)}: " +
                $"{tokens.Train.TokenCount:N0} train / {tokens.Validation.TokenCount:N0} validation tokens ({Markup.Escape(tok.Name)})");

            var result = TrainingProgress.Run(trainer);
            AnsiConsole.MarkupLine(
                $"[bold green]final validation[/]: loss {result.Loss:F4}, perplexity {result.Perplexity:F2}, bits per byte {result.BitsPerByte:F4}");

            if (p.GetValue(sample) > 0)
            {
                var prompt = tok.Encode("The ");
                // the default engine ("auto"): lean where every layer has a lean twin, else the TorchSharp step
                var generated = Generation.Generate(model, prompt, p.GetValue(sample), new SamplingOptions { Temperature = 0.8, TopK = 40, Seed = 1 });
                AnsiConsole.MarkupLine("[grey]sample:[/]");
                Console.WriteLine(tok.Decode(prompt.Concat(generated).ToArray()));
            }
            return 0;
        });
        return command;
    }
}
