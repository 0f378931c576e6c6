namespace ArchLab.Training;

/// <summary>Validation loss (nats per token), perplexity and bits per byte.</summary>
public sealed record EvalResult(double Loss, double TokensPerByte, long Tokens)
{
    public double Perplexity => Math.Exp(Loss);
    public double BitsPerByte => Loss * TokensPerByte / Math.Log(2);
}
