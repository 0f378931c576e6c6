namespace ArchLab.Training;

/// <summary>What the trainer reports after a logged step. <see cref="TokensPerSecond"/> covers the optimizer steps since the
/// previous log alone: evaluations, checkpoints and event handlers in between do not count (<see cref="ElapsedSeconds"/>, the
/// run's wall clock, includes them).</summary>
public sealed record StepMetrics(long Step, long TotalSteps, double Loss, double LearningRate, double GradNorm,
                                 double TokensPerSecond, long TokensSeen, double ElapsedSeconds);

/// <summary>What the trainer reports after every step (<see cref="Trainer.StepFinished"/>): the step's training loss, its
/// learning rate and gradient norm (NaN without clipping).</summary>
public sealed record TrainStepResult(long Step, double Loss, double LearningRate, double GradNorm);
