using ArchLab.Models;
using TorchSharp;

namespace ArchLab.Recall;

/// <summary>The grid of a recall study: every architecture × width × sequence length × key-value pairs (or tokens to copy).</summary>
public sealed record RecallStudyOptions
{
    public string Task { get; init; } = "mqar";
    public IReadOnlyList<string> Archs { get; init; } = RecallModels.Names.ToArray();
    public IReadOnlyList<int> Widths { get; init; } = [32, 64, 128];
    public IReadOnlyList<int> SeqLens { get; init; } = [256];
    /// <summary>MQAR: key-value pairs; selective copy: tokens to copy; induction: unused.</summary>
    public IReadOnlyList<int> KvPairs { get; init; } = [16];
    public int Layers { get; init; } = 2;
    public int VocabSize { get; init; } = 8192;
    public int HeadDim { get; init; } = 64;
    /// <summary>The recurrent mixer of "hybrid" (its even layers; the odd ones are attention).</summary>
    public string HybridMixer { get; init; } = Mixers.Mamba.Spec.Name;
    public bool TiedEmbeddings { get; init; } = true;
    /// <summary>Learned absolute position embeddings in every model (as Zoology's baselines have).</summary>
    public bool PositionEmbedding { get; init; }
    /// <summary>Attention layers without rotary positions (with <see cref="PositionEmbedding"/>: Zoology's attention).</summary>
    public bool NoRope { get; init; }
    /// <summary>MLP of every block: "none" (Zoology's MQAR runs) or null for each architecture's own.</summary>
    public string? Mlp { get; init; } = "none";
    /// <summary>MQAR: random ids between the queries (Zoology's random_non_queries; its figure-2 runs turn it off).</summary>
    public bool RandomFill { get; init; }
    public double PowerA { get; init; } = 0.01;
    public int TrainExamples { get; init; } = 20000;
    public int ValidationExamples { get; init; } = 1000;
    public int DataSeed { get; init; } = 1;
    public RecallTrainConfig Train { get; init; } = new();
    /// <summary>
    /// Curriculum: before training on each grid cell, every model first trains this many steps on the same task at
    /// <see cref="CurriculumSeqLen"/> and <see cref="CurriculumKvPairs"/> (a shorter, easier instance; same schedule
    /// settings, its own warmup and cosine), then on the cell's own task. 0: no curriculum. The reported steps and
    /// seconds are the cell's own; the README states the curriculum.
    /// </summary>
    public int CurriculumSteps { get; init; }
    public int CurriculumSeqLen { get; init; } = 64;
    public int CurriculumKvPairs { get; init; } = 4;
    /// <summary>Where each model's trainer run folder goes (configs and metrics.jsonl, no checkpoints):
    /// <c>RunsDir/TASK-ARCH-wWIDTH-lenLENGTH-kvPAIRS</c> (and <c>…-curriculum</c>). Null: temporary folders, deleted after each run.</summary>
    public string? RunsDir { get; init; }
}

/// <summary>One trained model of the grid and its held-out result.</summary>
public sealed record RecallRow(string Task, string Arch, int Width, int Layers, int SeqLen, int KvPairs, int VocabSize,
    long Parameters, long StateBytes, int TrainExamples, int ValidationExamples, int DroppedFromValidation, RecallResult Result);

public static class RecallStudy
{
    public static IRecallTask CreateTask(string name, int vocabSize, int seqLen, int kvPairs, double powerA, bool randomFill = true) => name switch
    {
        "mqar" => new MqarTask(vocabSize, seqLen, kvPairs, powerA, randomFill),
        "induction" => new InductionTask(vocabSize, seqLen),
        "selective-copy" => new SelectiveCopyTask(vocabSize, seqLen, kvPairs),
        _ => throw new ArgumentException($"unknown recall task '{name}' (known: mqar, induction, selective-copy)"),
    };

    /// <summary>Checks every name and size of the grid before anything trains.</summary>
    public static void Validate(RecallStudyOptions o)
    {
        o.Train.Validate();
        if (o.Archs.Count == 0 || o.Widths.Count == 0 || o.SeqLens.Count == 0 || o.KvPairs.Count == 0)
            throw new ArgumentException("recall: the grid is empty (give at least one arch, width, sequence length and kv-pairs value)");
        if (o.CurriculumSteps < 0) throw new ArgumentException($"recall: curriculum steps must be ≥ 0, got {o.CurriculumSteps}");
        if (o.CurriculumSteps > 0)
        {
            CreateTask(o.Task, o.VocabSize, o.CurriculumSeqLen, o.CurriculumKvPairs, o.PowerA, o.RandomFill);
            if (o.CurriculumSeqLen > o.SeqLens.Min())
                throw new ArgumentException($"recall: the curriculum length {o.CurriculumSeqLen} is longer than the grid's shortest length {o.SeqLens.Min()}");
        }
        foreach (int seqLen in o.SeqLens) foreach (int kv in o.KvPairs) CreateTask(o.Task, o.VocabSize, seqLen, kv, o.PowerA, o.RandomFill);
        foreach (string arch in o.Archs) foreach (int width in o.Widths)
            RecallModels.Create(arch, width, o.Layers, o.VocabSize, o.SeqLens.Max(), o.HeadDim, o.HybridMixer, o.TiedEmbeddings, o.Mlp, o.PositionEmbedding, o.NoRope);
    }

    /// <summary>Trains the grid in order (data outermost: every model of a (length, pairs) cell sees the same examples).
    /// <paramref name="cancel"/> stops it at the next training step (<see cref="OperationCanceledException"/>).</summary>
    public static List<RecallRow> Run(RecallStudyOptions o, Action<RecallRow>? finished = null, Action<string>? log = null,
        CancellationToken cancel = default)
    {
        Validate(o);
        var rows = new List<RecallRow>();
        // The curriculum's examples, shared by every model: the same generator at the curriculum's length and pairs and
        // the same data seed (its own train/validation streams; a different task, so no example equals a grid cell's).
        var curriculum = o.CurriculumSteps > 0
            ? RecallDataset.Create(CreateTask(o.Task, o.VocabSize, o.CurriculumSeqLen, o.CurriculumKvPairs, o.PowerA, o.RandomFill),
                                   o.TrainExamples, o.ValidationExamples, o.DataSeed)
            : null;
        foreach (int seqLen in o.SeqLens)
            foreach (int kv in o.KvPairs)
            {
                var task = CreateTask(o.Task, o.VocabSize, seqLen, kv, o.PowerA, o.RandomFill);
                var data = RecallDataset.Create(task, o.TrainExamples, o.ValidationExamples, o.DataSeed);
                log?.Invoke($"{task.Name}: length {seqLen}, {kv} pairs, vocab {o.VocabSize}: {data.Train.Count} training and " +
                            $"{data.Validation.Count} validation examples ({data.DroppedFromValidation} validation draws dropped as seen in training)");
                foreach (string arch in o.Archs)
                    foreach (int width in o.Widths)
                    {
                        var config = RecallModels.Create(arch, width, o.Layers, o.VocabSize, seqLen, o.HeadDim, o.HybridMixer, o.TiedEmbeddings, o.Mlp, o.PositionEmbedding, o.NoRope);
                        torch.manual_seed(o.Train.Seed);
                        using var model = new LanguageModel(config);
                        long parameters = model.TotalParameters;
                        long stateBytes = model.StateBytes(1, seqLen);
                        log?.Invoke($"-- {arch}, width {width}, {o.Layers} layers: {parameters:N0} parameters, state {stateBytes:N0} bytes at length {seqLen}");
                        string? runDir = o.RunsDir is null ? null : Path.Combine(o.RunsDir, $"{task.Name}-{arch}-w{width}-len{seqLen}-kv{kv}");
                        if (curriculum is not null)
                        {
                            var warm = RecallTraining.Train(model, curriculum, o.Train with { Steps = o.CurriculumSteps, StopAtTrainAccuracy = 0 }, log, cancel,
                                                            runDir is null ? null : runDir + "-curriculum");
                            log?.Invoke($"   curriculum ({o.CurriculumSeqLen} tokens, {o.CurriculumKvPairs} pairs, {warm.StepsRun} steps): " +
                                        $"validation accuracy there {warm.Accuracy:P2}, {warm.Seconds:F0}s");
                        }
                        var result = RecallTraining.Train(model, data, o.Train, log, cancel, runDir);
                        var row = new RecallRow(task.Name, arch, width, o.Layers, seqLen, kv, o.VocabSize, parameters, stateBytes,
                            data.Train.Count, data.Validation.Count, data.DroppedFromValidation, result);
                        log?.Invoke($"   {arch} width {width}: validation accuracy {result.Accuracy:P2} ({result.Correct}/{result.Scored}), " +
                                    $"loss {result.Loss:F4}, {result.StepsRun} steps, {result.Seconds:F0}s");
                        rows.Add(row);
                        finished?.Invoke(row);
                    }
            }
        return rows;
    }
}
