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

    /// <summary>
    /// Benchmarks: brings every layer to <paramref name="length"/> tokens with arbitrary contents when every layer's state
    /// allows it (<see cref="MixerState.CanFillArbitrary"/>: a KV cache); false, with nothing changed, when the tokens must
    /// be run instead.
    /// </summary>
    public bool TryFillArbitrary(long length, Random random)
    {
        if (!Layers.All(s => s is null || s.CanFillArbitrary)) return false;
        foreach (var s in Layers) s?.FillArbitrary(length, random);
        return true;
    }

    public void Dispose()
    {
        foreach (var s in Layers) s?.Dispose();
        Array.Clear(Layers);
    }
}
