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
/// The loss is pluggable (<see cref="ITrainingLoss"/>; default: next-token cross-entropy at every position), and a
/// caller may end a run early (<see cref="StopAfterThisStep"/>).
/// </summary>
public sealed class Trainer
{
    public LanguageModel Model { get; }
    public TrainConfig Config { get; }
    public string RunDir { get; }
    public MetricsLog Metrics { get; }
    public TrainerState State { get; private set; }

    public event Action<StepMetrics>? StepLogged;
    /// <summary>After every optimizer step, logged or not (a caller's stopping rule: <see cref="StopAfterThisStep"/>).</summary>
    public event Action<TrainStepResult>? StepFinished;
    public event Action<long, EvalResult>? Evaluated;
    public event Action<string>? CheckpointSaved;

    readonly ITrainingData data;
    readonly Device device;
    readonly AdamW optimizer;
    readonly ITrainingLoss trainingLoss;
    volatile bool stopRequested;

    Trainer(LanguageModel model, TrainConfig config, TrainerState state, ITrainingData data, string runDir, Device device, ITrainingLoss? loss)
    {
        trainingLoss = loss ?? NextTokenLoss.Instance;
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
    public static Trainer Start(ModelConfig modelConfig, TrainConfig config, ITrainingData data, string runDir, Device device,
        ITrainingLoss? loss = null)
    {
        CheckNewRun(config, runDir);
        torch.manual_seed(config.Seed);
        return Start(new LanguageModel(modelConfig), config, data, runDir, device, loss);
    }

    /// <summary>A new run of a model the caller built or trained before (a curriculum's next stage): fresh optimizer
    /// moments and schedule, the model's weights as they are.</summary>
    public static Trainer Start(LanguageModel model, TrainConfig config, ITrainingData data, string runDir, Device device,
        ITrainingLoss? loss = null)
    {
        CheckNewRun(config, runDir);
        Directory.CreateDirectory(runDir);
        if (File.Exists(Path.Combine(runDir, "metrics.jsonl"))) File.Delete(Path.Combine(runDir, "metrics.jsonl"));
        AtomicFile.WriteAllText(Path.Combine(runDir, "config.json"), model.Config.ToJson());
        AtomicFile.WriteAllText(Path.Combine(runDir, "train_config.json"), config.ToJson());
        return new Trainer(model, config, new TrainerState(), data, runDir, device, loss);
    }

    static void CheckNewRun(TrainConfig config, string runDir)
    {
        config.Validate();
        if (TrainingCheckpoint.Latest(runDir) is string existing)
            throw new InvalidOperationException($"{runDir} already holds a run (checkpoint {existing}); resume it or choose another --out");
    }

    /// <summary>Continues the run in <paramref name="runDir"/> from its latest checkpoint.</summary>
    public static Trainer Resume(string runDir, ITrainingData data, Device device, ITrainingLoss? loss = null)
    {
        string dir = TrainingCheckpoint.Latest(runDir)
                     ?? throw new CheckpointException($"{runDir}: nothing to resume (no checkpoints/latest)");
        var (model, config, state) = TrainingCheckpoint.Load(dir);
        TrainingCheckpoint.RemoveStalePartials(runDir); // a kill during a checkpoint write leaves one
        var trainer = new Trainer(model, config, state, data, runDir, device, loss);
        TrainingCheckpoint.LoadOptimizer(dir, trainer.optimizer);
        trainer.Metrics.TruncateAfter(state.Step);
        return trainer;
    }

    /// <summary>Ends <see cref="Run"/> after the step in progress (or the next one), which then counts as the last:
    /// it is evaluated (and checkpointed, if checkpoints are on). For a caller's stopping rule, from a
    /// <see cref="StepFinished"/> or <see cref="StepLogged"/> handler; <see cref="OperationCanceledException"/> is for an interrupt instead.</summary>
    public void StopAfterThisStep() => stopRequested = true;

    /// <summary>Trains until <see cref="TrainConfig.Steps"/> (or <see cref="StopAfterThisStep"/>); returns the final validation result.</summary>
    public EvalResult Run(CancellationToken cancel = default)
    {
        Model.train();
        var clock = Stopwatch.StartNew();
        double elapsedBefore = State.ElapsedSeconds;
        long intervalTokens = 0;
        var stepClock = new Stopwatch(); // runs only inside optimizer steps: evaluations, checkpoints and handlers are not throughput
        EvalResult? last = null;

        for (long step = State.Step; step < Config.Steps; step++)
        {
            cancel.ThrowIfCancellationRequested();
            double lr = LearningRateSchedule.At(step, Config.Steps, Config.LearningRate, Config.WarmupSteps, Config.MinLrRatio);
            foreach (var group in optimizer.ParamGroups) group.LearningRate = lr;

            stepClock.Start();
            var (loss, gradNorm) = TrainStep(step);
            stepClock.Stop();
            intervalTokens += Config.TokensPerStep;
            State = State with
            {
                Step = step + 1,
                TokensSeen = State.TokensSeen + Config.TokensPerStep,
                ElapsedSeconds = elapsedBefore + clock.Elapsed.TotalSeconds,
            };

            StepFinished?.Invoke(new TrainStepResult(step + 1, loss, lr, gradNorm));
            bool lastStep = step + 1 == Config.Steps || stopRequested;
            if ((step + 1) % Config.LogEvery == 0 || lastStep)
            {
                var metrics = new StepMetrics(step + 1, Config.Steps, loss, lr, gradNorm,
                    intervalTokens / Math.Max(stepClock.Elapsed.TotalSeconds, 1e-9), State.TokensSeen, State.ElapsedSeconds);
                Metrics.Append(new { step = step + 1, loss, lr, grad_norm = double.IsFinite(gradNorm) ? gradNorm : (double?)null, tokens_per_second = metrics.TokensPerSecond,
                                     tokens = State.TokensSeen, elapsed_s = State.ElapsedSeconds });
                StepLogged?.Invoke(metrics);
                intervalTokens = 0;
                stepClock.Reset();
            }
            lastStep |= stopRequested; // a StepLogged handler may just have asked
            if ((step + 1) % Config.EvalEvery == 0 || lastStep)
            {
                last = Evaluator.Evaluate(Model, data, Config.EvalBatches, device, Config.Bf16, trainingLoss);
                State = State with { LastValLoss = last.Loss };
                Metrics.Append(new { step = step + 1, val_loss = last.Loss, val_perplexity = last.Perplexity,
                                     val_bpb = double.IsFinite(last.BitsPerByte) ? last.BitsPerByte : (double?)null, // data that is not text
                                     tokens = State.TokensSeen });
                Evaluated?.Invoke(step + 1, last);
            }
            if (Config.CheckpointEvery > 0 && ((step + 1) % Config.CheckpointEvery == 0 || lastStep))
            {
                string saved = TrainingCheckpoint.Save(RunDir, Model, optimizer, Config, State);
                CheckpointSaved?.Invoke(saved);
            }
            if (lastStep) break;
        }
        return last ?? Evaluator.Evaluate(Model, data, Config.EvalBatches, device, Config.Bf16, trainingLoss);
    }

    (double Loss, double GradNorm) TrainStep(long step)
    {
        optimizer.zero_grad();
        double lossSum = 0;
        for (int micro = 0; micro < Config.GradAccum; micro++)
        {
            using var scope = NewDisposeScope();
            var (x, y) = data.TrainBatch(step, micro);
            Tensor batchLoss;
            using (Autocast.Bf16(Config.Bf16))
                batchLoss = trainingLoss.PerPosition(Model, x.to(device), y.to(device)).mean() / Config.GradAccum;
            double value = batchLoss.item<float>();
            if (!double.IsFinite(value))
                throw new TrainingDivergedException(
                    $"non-finite loss ({value}) at step {step + 1}; stopped without saving. Last good checkpoint: " +
                    (TrainingCheckpoint.Latest(RunDir) ?? "none"));
            batchLoss.backward();
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
