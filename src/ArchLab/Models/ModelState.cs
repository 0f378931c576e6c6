using ArchLab.Mixers;

namespace ArchLab.Models;

/// <summary>The per-layer mixer states of a whole model (KV caches, recurrent states) during prefill and decoding.</summary>
public sealed class ModelState(int layers) : IDisposable
{
    public MixerState?[] Layers { get; } = new MixerState?[layers];

    /// <summary>Tokens consumed so far.</summary>
    public long Position => Layers.FirstOrDefault(s => s is not null)?.Position ?? 0;

    /// <summary>Measured bytes of all layer states.</summary>
    public long Bytes => Layers.Sum(s => s?.Bytes ?? 0);

    public void Dispose()
    {
        foreach (var s in Layers) s?.Dispose();
        Array.Clear(Layers);
    }
}
