namespace ArchLab.Inference;

/// <summary>How the next token is drawn: temperature 0 is greedy; top-k 0 and top-p 1 turn those filters off.</summary>
public sealed record SamplingOptions
{
    public double Temperature { get; init; } = 0.8;
    public int TopK { get; init; } = 0;
    public double TopP { get; init; } = 1.0;
    public long Seed { get; init; } = 1234;

    public SamplingOptions Validate()
    {
        if (!(Temperature >= 0) || double.IsInfinity(Temperature)) throw new ArgumentException($"temperature must be ≥ 0, got {Temperature}");
        if (TopK < 0) throw new ArgumentException($"top-k must be ≥ 0, got {TopK}");
        if (!(TopP > 0 && TopP <= 1)) throw new ArgumentException($"top-p must be in (0, 1], got {TopP}");
        return this;
    }
}
