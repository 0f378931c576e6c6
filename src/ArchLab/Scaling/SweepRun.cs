using System.Diagnostics;
using System.Text.Json;
using ArchLab.Checkpoints;
using ArchLab.Data;
using ArchLab.Models;
using ArchLab.Training;
using static TorchSharp.torch;

namespace ArchLab.Scaling;

/// <summary>
/// Trains one planned run with the <see cref="Trainer"/> in <c>&lt;out&gt;/runs/&lt;id&gt;/</c> and appends its result to
/// <c>runs.jsonl</c>. A run killed part way continues from its latest checkpoint; one killed before its first checkpoint
/// starts again. Its checkpoints are deleted once the result line is written (metrics.jsonl stays).
/// </summary>
public static class SweepRun
{
    public static RunResult Execute(SweepSpec spec, RunPlan plan, TokenizedCorpus tokens, string outDir, Device device, TextWriter? log = null)
    {
        if (tokens.Tokenizer.VocabSize > spec.VocabSize)
            throw new ConfigException($"sweep spec: vocab_size {spec.VocabSize} is smaller than the tokenizer's {tokens.Tokenizer.VocabSize}");
        var runsFile = new RunsFile(Path.Combine(outDir, "runs.jsonl"));
        if (runsFile.Read().FirstOrDefault(r => r.Id == plan.Id) is { } done) return done;

        string runDir = Path.Combine(outDir, "runs", plan.Id);
        using var held = LockRun(runDir, plan.Id);
        if (runsFile.Read().FirstOrDefault(r => r.Id == plan.Id) is { } finished) return finished; // finished while we waited
        var data = new CorpusTrainingData(tokens, plan.Train.BatchSize, plan.Train.SeqLen, plan.Train.Seed);
        Trainer trainer;
        if (TrainingCheckpoint.Latest(runDir) is not null)
        {
            trainer = Trainer.Resume(runDir, data, device);
            // compared as JSON: records compare arrays (a hybrid's layer_pattern) by reference
            if (trainer.Config != plan.Train || JsonSerializer.Serialize(trainer.Model.Config, ModelConfig.Json) != JsonSerializer.Serialize(plan.Model, ModelConfig.Json))
                throw new InvalidOperationException($"{runDir} holds a run with other settings than the spec plans for {plan.Id}; delete it to start again");
            log?.WriteLine($"{plan.Id}: resuming at step {trainer.State.Step}/{plan.Train.Steps}");
        }
        else trainer = Trainer.Start(plan.Model, plan.Train, data, runDir, device); // a run killed before its first checkpoint starts again

        var clock = Stopwatch.StartNew();
        var final = trainer.Run();
        var curve = trainer.Metrics.Read()
            .Where(r => r["loss"] is not null)
            .Select(r => new CurvePoint(r["step"]!.GetValue<long>(), r["tokens"]!.GetValue<long>(), r["loss"]!.GetValue<double>()))
            .ToArray();
        var result = new RunResult
        {
            Sweep = spec.Name, Id = plan.Id, Arch = plan.Arch, Model = plan.Model, Train = plan.Train,
            NonEmbeddingParams = plan.NonEmbeddingParams, EmbeddingParams = plan.EmbeddingParams, TotalParams = plan.TotalParams,
            FlopsPerToken = plan.FlopsPerToken, Tokens = plan.Tokens, Compute = plan.Compute,
            ComputeBudget = plan.ComputeBudget, TokenBudget = plan.TokenBudget,
            Epochs = (double)plan.Tokens / Math.Max(1, tokens.Train.TokenCount),
            LossCurve = curve, FinalValLoss = final.Loss, FinalValBpb = final.BitsPerByte,
            WallSeconds = trainer.State.ElapsedSeconds, FinishedAt = DateTimeOffset.UtcNow, FinishedOn = Engine.SimdInfo.Machine(),
        };
        if (!double.IsFinite(result.FinalValLoss)) throw new TrainingDivergedException($"{plan.Id}: validation loss is {result.FinalValLoss}");
        runsFile.Append(result);
        string checkpoints = Path.Combine(runDir, "checkpoints");
        if (Directory.Exists(checkpoints)) Directory.Delete(checkpoints, recursive: true);
        log?.WriteLine($"{plan.Id}: val loss {final.Loss:F4} after {plan.Tokens:N0} tokens, {clock.Elapsed.TotalSeconds:F1} s");
        return result;
    }

    /// <summary>One process per run: a second worker (local or Slurm) on the same run stops at once instead of sharing its checkpoints.</summary>
    static FileStream LockRun(string runDir, string id)
    {
        Directory.CreateDirectory(runDir);
        try { return new FileStream(Path.Combine(runDir, "run.lock"), FileMode.OpenOrCreate, FileAccess.ReadWrite, FileShare.None); }
        catch (IOException) { throw new InvalidOperationException($"{id} is being trained by another process (runs/{id}/run.lock is held)"); }
    }
}
