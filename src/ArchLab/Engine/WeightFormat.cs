namespace ArchLab.Engine;

/// <summary>How the engine stores a weight matrix. Activations, states and small vectors stay float32 in every format.</summary>
public enum WeightFormat
{
    /// <summary>4 bytes per weight, exact.</summary>
    Float32,
    /// <summary>2 bytes per weight (bfloat16, rounded to nearest even), widened to float32 in registers.</summary>
    BFloat16,
    /// <summary>1 byte per weight plus one float32 scale per group of 32 weights of a row (per row when the row length is
    /// not a multiple of 32): llama.cpp's Q8_0 layout idea, dequantised in registers.</summary>
    Int8,
}

public static class WeightFormats
{
    public static readonly string[] Names = ["fp32", "bf16", "int8"];

    public static WeightFormat Parse(string name) => name.Trim().ToLowerInvariant() switch
    {
        "fp32" or "float32" or "f32" => WeightFormat.Float32,
        "bf16" or "bfloat16" => WeightFormat.BFloat16,
        "int8" or "q8" or "q8_0" => WeightFormat.Int8,
        _ => throw new ArgumentException($"unknown weight format '{name}' (use {string.Join(", ", Names)})"),
    };

    public static string Name(this WeightFormat format) => format switch
    {
        WeightFormat.Float32 => "fp32",
        WeightFormat.BFloat16 => "bf16",
        _ => "int8",
    };
}
