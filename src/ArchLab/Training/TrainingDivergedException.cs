namespace ArchLab.Training;

/// <summary>The loss became NaN or infinite; the run stopped without writing a checkpoint.</summary>
public sealed class TrainingDivergedException(string message) : Exception(message);
