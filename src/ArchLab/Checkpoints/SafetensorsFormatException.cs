namespace ArchLab.Checkpoints;

/// <summary>A safetensors file that breaks the format. The message names the file, the problem and, where one is
/// involved, the tensor. <see cref="InvalidDataException"/> is sealed, so this derives from <see cref="IOException"/>:
/// code that loads checkpoints catches one type for unreadable and for malformed files.</summary>
public sealed class SafetensorsFormatException : IOException
{
    public SafetensorsFormatException(string path, string problem, string? tensorName = null)
        : base(tensorName is null
            ? $"Invalid safetensors file '{path}': {problem}"
            : $"Invalid safetensors file '{path}': tensor '{tensorName}': {problem}")
    {
        FilePath = path;
        TensorName = tensorName;
    }

    public string FilePath { get; }
    public string? TensorName { get; }
}
