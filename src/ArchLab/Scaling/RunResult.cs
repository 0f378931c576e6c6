using System.Text.Json;
using ArchLab.Models;
using ArchLab.Training;

namespace ArchLab.Scaling;

/// <summary>A point of a loss curve: optimizer step, tokens seen, training loss.</summary>
public sealed record CurvePoint(long Step, long Tokens, double Loss);

/// <summary>One finished run: one line of <c>runs.jsonl</c>.</summary>
public sealed record RunResult
{
    public string Sweep { get; init; } = "";
    public string Id { get; init; } = "";
    public string Arch { get; init; } = "";
    public ModelConfig Model { get; init; } = new();
    public TrainConfig Train { get; init; } = new();
    public long NonEmbeddingParams { get; init; }
    public long EmbeddingParams { get; init; }
    public long TotalParams { get; init; }
    /// <summary>Training FLOPs per token (forward + backward), from <see cref="LanguageModel.TrainingFlopsPerToken"/>.</summary>
    public long FlopsPerToken { get; init; }
    public long Tokens { get; init; }
    /// <summary>Training compute: FlopsPerToken × Tokens.</summary>
    public double Compute { get; init; }
    public double? ComputeBudget { get; init; }
    public long? TokenBudget { get; init; }
    /// <summary>Passes over the training split (above 1, data repeats).</summary>
    public double Epochs { get; init; }
    public CurvePoint[] LossCurve { get; init; } = [];
    public double FinalValLoss { get; init; }
    public double FinalValBpb { get; init; }
    /// <summary>The trainer's own clock over the whole run (a resumed run adds its parts), evaluations and checkpoints
    /// included; it also counts any time the process was stopped (SIGSTOP).</summary>
    public double WallSeconds { get; init; }
    public DateTimeOffset FinishedAt { get; init; }
    /// <summary>The machine that finished the run (<see cref="Engine.SimdInfo.Machine"/>); absent in runs recorded before
    /// it was kept. A resumed run may have begun elsewhere.</summary>
    public string? FinishedOn { get; init; }

    public string ToJsonLine() => JsonSerializer.Serialize(this, Line);

    public static RunResult FromJsonLine(string line) => JsonSerializer.Deserialize<RunResult>(line, Line)!;

    static readonly JsonSerializerOptions Line = new(ModelConfig.Json) { WriteIndented = false };
}
