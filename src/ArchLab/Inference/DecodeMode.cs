namespace ArchLab.Inference;

/// <summary>How a sequence is fed through the model; every mode must give the same logits as <see cref="Parallel"/>.</summary>
public enum DecodeMode
{
    /// <summary>The whole sequence in one pass.</summary>
    Parallel,
    /// <summary>Every token through the step path from a fresh state.</summary>
    Recurrent,
    /// <summary>The first tokens in one pass (prefill), the rest stepped.</summary>
    PrefillStep,
    /// <summary>Consecutive chunks in turn, carrying the cache or state between them.</summary>
    Chunked,
}

public static class DecodeModes
{
    public static DecodeMode Parse(string name) => name.Trim().ToLowerInvariant() switch
    {
        "parallel" => DecodeMode.Parallel,
        "recurrent" => DecodeMode.Recurrent,
        "prefill_step" or "prefill-step" => DecodeMode.PrefillStep,
        "chunked" or "chunkwise" => DecodeMode.Chunked,
        _ => throw new ArgumentException($"unknown mode '{name}' (use parallel, recurrent, prefill_step or chunked)"),
    };
}
