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
    public double WallSeconds { get; init; }
    public DateTimeOffset FinishedAt { get; init; }

    public string ToJsonLine() => JsonSerializer.Serialize(this, Line);

    public static RunResult FromJsonLine(string line) => JsonSerializer.Deserialize<RunResult>(line, Line)!;

    static readonly JsonSerializerOptions Line = new(ModelConfig.Json) { WriteIndented = false };
}
