namespace ArchLab.Recall;

/// <summary>Outcome of one trained model on the held-out set: accuracy over all scored positions and their mean loss.</summary>
public sealed record RecallResult(double Accuracy, double Loss, long Correct, long Scored, int StepsRun, double FinalTrainLoss, double Seconds);
