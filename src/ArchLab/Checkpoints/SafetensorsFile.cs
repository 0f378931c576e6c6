using TorchSharp;

namespace ArchLab.Checkpoints;

/// <summary>One tensor's entry in a safetensors header. Offsets are relative to the start of the data buffer.</summary>
public sealed record TensorInfo(string Name, torch.ScalarType DType, long[] Shape, long DataBegin, long DataEnd)
{
    public long ByteLength => DataEnd - DataBegin;
}

/// <summary>The tensors (CPU, copied out of the file) and metadata of a safetensors file. Disposing it disposes the tensors.</summary>
public sealed class SafetensorsFile : IDisposable
{
    public SafetensorsFile(string path, Dictionary<string, torch.Tensor> tensors, Dictionary<string, string> metadata)
    {
        Path = path;
        Tensors = tensors;
        Metadata = metadata;
    }

    public string Path { get; }
    public Dictionary<string, torch.Tensor> Tensors { get; }
    public Dictionary<string, string> Metadata { get; }

    public torch.Tensor this[string name] =>
        Tensors.TryGetValue(name, out var tensor)
            ? tensor
            : throw new KeyNotFoundException($"No tensor '{name}' in safetensors file '{Path}'.");

    public bool Contains(string name) => Tensors.ContainsKey(name);

    public void Dispose()
    {
        foreach (var tensor in Tensors.Values) tensor.Dispose();
    }
}
