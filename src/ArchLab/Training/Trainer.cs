using ArchLab.IO;
using System.Diagnostics;
using ArchLab.Checkpoints;
using ArchLab.Models;
using ArchLab.Runtime;
using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace ArchLab.Training;

/// <summary>
/// AdamW with linear warmup and cosine decay, gradient clipping and accumulation, optional bf16 matmuls, periodic
/// evaluation and checkpoints, a JSON-lines metrics log, and exact resume: batches are a pure function of
/// (seed, step), so the weights, the optimizer moments and the step count are all a resumed run needs.
/// </summary>
public sealed class Trainer
{
    public LanguageModel Model { get; }
    public TrainConfig Config { get; }
    public string RunDir { get; }
    public MetricsLog Metrics { get; }
    public TrainerState State { get; private set; }

    public event Action<StepMetrics>? StepLogged;
    public event Action<long, EvalResult>? Evaluated;
    public event Action<string>? CheckpointSaved;

    readonly ITrainingData data;
    readonly Device device;
    readonly AdamW optimizer;

    Trainer(LanguageModel model, TrainConfig config, TrainerState state, ITrainingData data, string runDir, Device device)
    {
        Model = model;
        Config = config;
        State = state;
        RunDir = runDir;
        this.data = data;
        this.device = device;
        Model.to(device);
        Metrics = new MetricsLog(Path.Combine(runDir, "metrics.jsonl"));
        optimizer = CreateOptimizer(model, config);
    }

    /// <summary>A new run: the model is initialised from the seed; the run folder must not hold a run already.</summary>
    public static Trainer Start(ModelConfig modelConfig, TrainConfig config, ITrainingData data, string runDir, Device device)
    {
        config.Validate();
        if (TrainingCheckpoint.Latest(runDir) is string existing)
            throw new InvalidOperationException($"{runDir} already holds a run (checkpoint {existing}); resume it or choose another --out");
        Directory.CreateDirectory(runDir);
        if (File.Exists(Path.Combine(runDir, "metrics.jsonl"))) File.Delete(Path.Combine(runDir, "metrics.jsonl"));
        torch.manual_seed(config.Seed);
        var model = new LanguageModel(modelConfig);
        AtomicFile.WriteAllText(Path.Combine(runDir, "config.json"), modelConfig.ToJson());
        AtomicFile.WriteAllText(Path.Combine(runDir, "train_config.json"), config.ToJson());
        return new Trainer(model, config, new TrainerState(), data, runDir, device);
    }

    /// <summary>Continues the run in <paramref name="runDir"/> from its latest checkpoint.</summary>
    public static Trainer Resume(string runDir, ITrainingData data, Device device)
    {
        string dir = TrainingCheckpoint.Latest(runDir)
                     ?? throw new CheckpointException($"{runDir}: nothing to resume (no checkpoints/latest)");
        var (model, config, state) = TrainingCheckpoint.Load(dir);
        TrainingCheckpoint.RemoveStalePartials(runDir); // a kill during a checkpoint write leaves one
        var trainer = new Trainer(model, config, state, data, runDir, device);
        TrainingCheckpoint.LoadOptimizer(dir, trainer.optimizer);
        trainer.Metrics.TruncateAfter(state.Step);
        return trainer;
    }

    /// <summary>Trains until <see cref="TrainConfig.Steps"/>; returns the final validation result.</summary>
    public EvalResult Run(CancellationToken cancel = default)
    {
        Model.train();
        var clock = Stopwatch.StartNew();
        double elapsedBefore = State.ElapsedSeconds;
        long intervalTokens = 0;
        var intervalClock = Stopwatch.StartNew();
        EvalResult? last = null;

        for (long step = State.Step; step < Config.Steps; step++)
        {
            cancel.ThrowIfCancellationRequested();
            double lr = LearningRateSchedule.At(step, Config.Steps, Config.LearningRate, Config.WarmupSteps, Config.MinLrRatio);
            foreach (var group in optimizer.ParamGroups) group.LearningRate = lr;

            var (loss, gradNorm) = TrainStep(step);
            intervalTokens += Config.TokensPerStep;
            State = State with
            {
                Step = step + 1,
                TokensSeen = State.TokensSeen + Config.TokensPerStep,
                ElapsedSeconds = elapsedBefore + clock.Elapsed.TotalSeconds,
            };

            bool lastStep = step + 1 == Config.Steps;
            if ((step + 1) % Config.LogEvery == 0 || lastStep)
            {
                var metrics = new StepMetrics(step + 1, Config.Steps, loss, lr, gradNorm,
                    intervalTokens / Math.Max(intervalClock.Elapsed.TotalSeconds, 1e-9), State.TokensSeen, State.ElapsedSeconds);
                Metrics.Append(new { step = step + 1, loss, lr, grad_norm = double.IsFinite(gradNorm) ? gradNorm : (double?)null, tokens_per_second = metrics.TokensPerSecond,
                                     tokens = State.TokensSeen, elapsed_s = State.ElapsedSeconds });
                StepLogged?.Invoke(metrics);
                intervalTokens = 0;
                intervalClock.Restart();
            }
            if ((step + 1) % Config.EvalEvery == 0 || lastStep)
            {
                last = Evaluator.Evaluate(Model, data, Config.EvalBatches, device, Config.Bf16);
                State = State with { LastValLoss = last.Loss };
                Metrics.Append(new { step = step + 1, val_loss = last.Loss, val_perplexity = last.Perplexity, val_bpb = last.BitsPerByte,
                                     tokens = State.TokensSeen });
                Evaluated?.Invoke(step + 1, last);
                intervalClock.Restart();
            }
            if ((step + 1) % Config.CheckpointEvery == 0 || lastStep)
            {
                string saved = TrainingCheckpoint.Save(RunDir, Model, optimizer, Config, State);
                CheckpointSaved?.Invoke(saved);
                intervalClock.Restart();
            }
        }
        return last ?? Evaluator.Evaluate(Model, data, Config.EvalBatches, device, Config.Bf16);
    }

    (double Loss, double GradNorm) TrainStep(long step)
    {
        optimizer.zero_grad();
        double lossSum = 0;
        for (int micro = 0; micro < Config.GradAccum; micro++)
        {
            using var scope = NewDisposeScope();
            var (x, y) = data.TrainBatch(step, micro);
            Tensor loss;
            using (Autocast.Bf16(Config.Bf16))
            {
                var logits = Model.forward(x.to(device));
                loss = nn.functional.cross_entropy(logits.flatten(0, 1), y.to(device).flatten()) / Config.GradAccum;
            }
            double value = loss.item<float>();
            if (!double.IsFinite(value))
                throw new TrainingDivergedException(
                    $"non-finite loss ({value}) at step {step + 1}; stopped without saving. Last good checkpoint: " +
                    (TrainingCheckpoint.Latest(RunDir) ?? "none"));
            loss.backward();
            lossSum += value;
        }
        double gradNorm = Config.GradClip > 0
            ? nn.utils.clip_grad_norm_(Model.parameters(), Config.GradClip)
            : double.NaN; // not computed without clipping
        if (Config.GradClip > 0 && !double.IsFinite(gradNorm)) // clipping by it would write NaN into every weight
            throw new TrainingDivergedException(
                $"non-finite gradient norm ({gradNorm}) at step {step + 1} (loss {lossSum:F4}); stopped without saving. Last good checkpoint: " +
                (TrainingCheckpoint.Latest(RunDir) ?? "none"));
        optimizer.step();
        return (lossSum, gradNorm);
    }

    /// <summary>Weight decay on the model's <see cref="LanguageModel.WeightDecayGroups"/> (matrices, less what a mixer's spec
    /// exempts). Public so that checkpoint readers can restore the moments into it.</summary>
    public static AdamW CreateOptimizer(LanguageModel model, TrainConfig config)
    {
        var (decay, noDecay) = model.WeightDecayGroups();
        return optim.AdamW([
            new AdamW.ParamGroup(decay, lr: config.LearningRate, beta1: config.Beta1, beta2: config.Beta2, weight_decay: config.WeightDecay),
            new AdamW.ParamGroup(noDecay, lr: config.LearningRate, beta1: config.Beta1, beta2: config.Beta2, weight_decay: 0.0),
        ], lr: config.LearningRate, beta1: config.Beta1, beta2: config.Beta2);
    }
}
