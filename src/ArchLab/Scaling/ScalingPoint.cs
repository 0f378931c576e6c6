namespace ArchLab.Scaling;

/// <summary>
/// One finished run as the fits see it: parameters N, training tokens D, training compute C (FLOPs), the IsoFLOP
/// budget it belongs to (null for token budgets), final validation loss, and training FLOPs per token.
/// </summary>
public sealed record ScalingPoint(double N, double D, double C, double? Budget, double Loss, double FlopsPerToken)
{
    /// <summary>Non-embedding (Kaplan) or total (Chinchilla) parameters of a recorded run.</summary>
    public static ScalingPoint From(RunResult r, bool totalParams) =>
        new(totalParams ? r.TotalParams : r.NonEmbeddingParams, r.Tokens, r.Compute, r.ComputeBudget, r.FinalValLoss, r.FlopsPerToken);
}

/// <summary>An estimate with its bootstrap percentile interval (95% unless stated).</summary>
public sealed record Estimate(double Value, double Low, double High)
{
    public override string ToString() => $"{Value:G4} [{Low:G4}, {High:G4}]";
}
