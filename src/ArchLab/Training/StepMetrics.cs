namespace ArchLab.Training;

/// <summary>What the trainer reports after a logged step.</summary>
public sealed record StepMetrics(long Step, long TotalSteps, double Loss, double LearningRate, double GradNorm,
                                 double TokensPerSecond, long TokensSeen, double ElapsedSeconds);
