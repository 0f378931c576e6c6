using System.CommandLine;
using ArchLab.Recall;
using ArchLab.Runtime;

namespace ArchLab.Cli.Commands;

/// <summary><c>archlab recall</c>: synthetic recall tasks (MQAR, induction, selective copying), accuracy against width and state size.</summary>
public static class RecallCommand
{
    public static Command Create()
    {
        var d = new RecallStudyOptions();
        var task = new Option<string>("--task") { Description = "mqar, induction or selective-copy", DefaultValueFactory = _ => d.Task };
        var archs = new Option<string[]>("--archs") { Description = $"architectures: {string.Join(", ", RecallModels.Names)}", DefaultValueFactory = _ => d.Archs.ToArray(), AllowMultipleArgumentsPerToken = true };
        var widths = new Option<int[]>("--widths") { Description = "model widths", DefaultValueFactory = _ => d.Widths.ToArray(), AllowMultipleArgumentsPerToken = true };
        var seqLens = new Option<int[]>("--seq-lens") { Description = "sequence lengths", DefaultValueFactory = _ => d.SeqLens.ToArray(), AllowMultipleArgumentsPerToken = true };
        var kvPairs = new Option<int[]>("--kv-pairs") { Description = "MQAR key-value pairs (selective-copy: tokens to copy)", DefaultValueFactory = _ => d.KvPairs.ToArray(), AllowMultipleArgumentsPerToken = true };
        var layers = new Option<int>("--layers") { DefaultValueFactory = _ => d.Layers };
        var vocab = new Option<int>("--vocab") { DefaultValueFactory = _ => d.VocabSize };
        var headDim = new Option<int>("--head-dim") { Description = "heads = width / head-dim (attention, RetNet)", DefaultValueFactory = _ => d.HeadDim };
        var hybridMixer = new Option<string>("--hybrid-mixer") { Description = "the recurrent mixer of 'hybrid' (even layers; odd layers are attention)", DefaultValueFactory = _ => d.HybridMixer };
        var positionEmbedding = new Option<bool>("--position-embedding") { Description = "learned absolute position embeddings added to the token embedding (Zoology's baselines have them)" };
        var noRope = new Option<bool>("--no-rope") { Description = "attention without rotary positions (with --position-embedding: Zoology's and GPT-2's attention)" };
        var curriculumSteps = new Option<int>("--curriculum-steps") { Description = "train each model this many steps on a shorter task first (0: off)" };
        var curriculumSeqLen = new Option<int>("--curriculum-seq-len") { Description = "sequence length of the curriculum task", DefaultValueFactory = _ => d.CurriculumSeqLen };
        var curriculumKvPairs = new Option<int>("--curriculum-kv-pairs") { Description = "key-value pairs of the curriculum task", DefaultValueFactory = _ => d.CurriculumKvPairs };
        var untied = new Option<bool>("--untied") { Description = "an output head of its own instead of one tied to the embedding" };
        var archMlp = new Option<bool>("--arch-mlp") { Description = "keep each architecture's own MLP (default: none, as in Zoology's MQAR runs)" };
        var randomFill = new Option<bool>("--random-fill") { Description = "MQAR: random ids between queries (Zoology's random_non_queries; off in its figure-2 runs)" };
        var powerA = new Option<double>("--power-a") { Description = "MQAR query-gap power law (Zoology's power_a)", DefaultValueFactory = _ => d.PowerA };
        var trainExamples = new Option<int>("--train-examples") { DefaultValueFactory = _ => d.TrainExamples };
        var valExamples = new Option<int>("--val-examples") { DefaultValueFactory = _ => d.ValidationExamples };
        var steps = new Option<int>("--steps") { DefaultValueFactory = _ => d.Train.Steps };
        var batch = new Option<int>("--batch-size") { DefaultValueFactory = _ => d.Train.BatchSize };
        var lr = new Option<double>("--lr") { DefaultValueFactory = _ => d.Train.LearningRate };
        var warmup = new Option<int>("--warmup") { DefaultValueFactory = _ => d.Train.WarmupSteps };
        var weightDecay = new Option<double>("--weight-decay") { DefaultValueFactory = _ => d.Train.WeightDecay };
        var stopAt = new Option<double>("--stop-at") { Description = "stop a run once its training query accuracy over 20 batches reaches this (0: never)", DefaultValueFactory = _ => 0.999 };
        var seed = new Option<int>("--seed") { Description = "model initialisation and batch order", DefaultValueFactory = _ => d.Train.Seed };
        var dataSeed = new Option<int>("--data-seed") { DefaultValueFactory = _ => d.DataSeed };
        var threads = new Option<int>("--threads") { Description = "libtorch threads (0: all cores)", DefaultValueFactory = _ => 1 };
        var quick = new Option<bool>("--quick") { Description = "a small grid that runs in minutes: widths 32 64, length 64, 4 pairs, vocab 256, 200 steps (other grid options override it)" };
        var notes = new Option<string?>("--notes") { Description = "a Markdown file whose text goes into README.md after the table" };
        var output = new Option<string?>("--out") { Description = "results folder (default: a new runs/recall/recall-<UTC time>); a folder that already holds recall.csv is kept unless --overwrite" };
        var overwrite = new Option<bool>("--overwrite") { Description = "replace the results in an existing --out folder (for example to update experiments/recall on purpose)" };
        var command = new Command("recall", "synthetic recall tasks: trains each architecture over a grid of width, length and key-value pairs; " +
                                            "writes accuracy vs width and vs state bytes (CSV, charts, README.md)")
        {
            task, archs, widths, seqLens, kvPairs, layers, vocab, headDim, hybridMixer, untied, positionEmbedding, noRope, curriculumSteps, curriculumSeqLen, curriculumKvPairs, archMlp, randomFill, powerA, trainExamples, valExamples, steps, batch, lr,
            warmup, weightDecay, stopAt, seed, dataSeed, threads, quick, notes, output, overwrite,
        };
        command.SetAction(p =>
        {
            TorchRuntime.SetThreads(p.GetValue(threads));
            bool q = p.GetValue(quick);
            T Pick<T>(Option<T> option, T quickValue) => q && p.GetResult(option) is null or { Implicit: true } ? quickValue : p.GetValue(option)!;
            var options = new RecallStudyOptions
            {
                Task = p.GetValue(task)!, Archs = p.GetValue(archs)!, Widths = Pick(widths, [32, 64]), SeqLens = Pick(seqLens, [64]),
                KvPairs = Pick(kvPairs, [4]), Layers = p.GetValue(layers), VocabSize = Pick(vocab, 256), HeadDim = p.GetValue(headDim),
                HybridMixer = p.GetValue(hybridMixer)!, TiedEmbeddings = !p.GetValue(untied), PositionEmbedding = p.GetValue(positionEmbedding), NoRope = p.GetValue(noRope), CurriculumSteps = p.GetValue(curriculumSteps), CurriculumSeqLen = p.GetValue(curriculumSeqLen), CurriculumKvPairs = p.GetValue(curriculumKvPairs), Mlp = p.GetValue(archMlp) ? null : "none", RandomFill = p.GetValue(randomFill), PowerA = p.GetValue(powerA), TrainExamples = Pick(trainExamples, 2000),
                ValidationExamples = Pick(valExamples, 200), DataSeed = p.GetValue(dataSeed),
                Train = new RecallTrainConfig
                {
                    Steps = Pick(steps, 200), BatchSize = p.GetValue(batch), LearningRate = p.GetValue(lr), WarmupSteps = Pick(warmup, 20),
                    WeightDecay = p.GetValue(weightDecay), StopAtTrainAccuracy = p.GetValue(stopAt), Seed = p.GetValue(seed),
                },
            };
            string? notesPath = p.GetValue(notes);
            if (notesPath is not null && !File.Exists(notesPath)) throw new ArgumentException($"--notes: no such file '{notesPath}'");
            RecallStudy.Validate(options);
            string folder = p.GetValue(output) ?? DefaultFolder(DateTime.UtcNow);
            if (File.Exists(Path.Combine(folder, "recall.csv")) && !p.GetValue(overwrite))
                throw new ArgumentException($"--out: '{folder}' already holds recall results (recall.csv); name a new folder, or add --overwrite to replace them");
            Directory.CreateDirectory(folder);
            options = options with { RunsDir = Path.Combine(folder, "runs") }; // each model's metrics.jsonl and configs
            string commandLine = "./archlab " + string.Join(" ", Environment.GetCommandLineArgs().Skip(1));
            var rows = new List<RecallRow>();
            RecallStudy.Run(options,
                finished: row => { rows.Add(row); RecallReport.WriteCsv(rows, Path.Combine(folder, "recall.csv"), commandLine); },
                log: Console.WriteLine);
            RecallReport.WriteCharts(rows, folder);
            RecallReport.WriteReadme(rows, options, Path.Combine(folder, "README.md"), commandLine,
                notesPath is null ? "" : File.ReadAllText(notesPath));
            Console.WriteLine();
            Console.Write(RecallReport.MarkdownTable(rows));
            Console.WriteLine($"wrote {folder}/recall.csv, accuracy_vs_width.html, accuracy_vs_state_bytes.html, README.md");
            return 0;
        });
        return command;
    }

    /// <summary>A new results folder per run, so a default run never writes over committed results.</summary>
    public static string DefaultFolder(DateTime utc) => Path.Combine("runs", "recall", $"recall-{utc:yyyyMMdd-HHmmss}");
}
