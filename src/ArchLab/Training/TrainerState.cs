namespace ArchLab.Training;

/// <summary>Where a run stands: saved in every checkpoint next to the weights and the optimizer moments.</summary>
public sealed record TrainerState
{
    /// <summary>Optimizer steps completed.</summary>
    public long Step { get; init; }
    public long TokensSeen { get; init; }
    public double? LastValLoss { get; init; }
    public double ElapsedSeconds { get; init; }
}
